// kognita-agent's entry point in the embedded build, which has no
// CommandLine and no top-level code: the C main takes the arguments itself.
// (The SwiftPM build uses Sources/kognita-agent/main.swift.)
@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    agentMain((0..<Int(argc)).map { String(cString: argv[$0]!) })
}
