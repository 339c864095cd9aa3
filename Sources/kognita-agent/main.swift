// kognita-agent's entry point. The program is in AgentProgram.swift; the
// embedded build (Scripts/build-agent-embedded.sh) has no CommandLine and
// uses Scripts/embedded/EntryPoint.swift instead of this file.
#if canImport(Glibc)
import Glibc
#endif

exit(agentMain(CommandLine.arguments))
