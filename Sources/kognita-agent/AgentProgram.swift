// kognita-agent: sensor-triggered payments from a device.
//   kognita-agent [run] [-c PATH]       run (default config /etc/kognita/agent.toml)
//   kognita-agent check-config [-c PATH] validate a config file, explaining each error by key
//   kognita-agent status [-c PATH] [--json]  what the running agent last reported
//   kognita-agent device-id [-c PATH]   print the device id, creating the key if there is none
import KognitaAgent
import KognitaCore
import KognitaSystem
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, code: Int32 = 1) -> Never {
    let line = Array("kognita-agent: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(code)
}

let usage = """
    usage: kognita-agent [run] [-c PATH]
           kognita-agent check-config [-c PATH]
           kognita-agent status [-c PATH] [--json]
           kognita-agent device-id [-c PATH]
    The configuration is TOML (see Config/agent.toml); KOGNITA_<SECTION>_<KEY>
    environment variables override it. Default path: \(AgentConfiguration.defaultPath).
    """

func environment() -> [String: String] { ConfigEnvironment.overrides() }

func loadConfiguration(_ configPath: String?) -> AgentConfiguration {
    let path = configPath ?? AgentConfiguration.defaultPath
    let text: String
    do throws(FileError) {
        text = String(decoding: try FileIO.read(path, maxBytes: 1 << 20), as: UTF8.self)
    } catch {
        fail("cannot read the configuration: \(error)\(configPath == nil ? " (pass -c PATH to use another file)" : "")")
    }
    switch AgentConfiguration.parse(text, environment: environment()) {
    case .success(let configuration): return configuration
    case .failure(let errors):
        fail("\(path) has \(errors.messages.count) problem\(errors.messages.count == 1 ? "" : "s"):\n  " + errors.messages.joined(separator: "\n  "))
    }
}

/// The program: parses `commandLine` (the program name first) and runs the command.
func agentMain(_ commandLine: [String]) -> Int32 {
    var arguments = Array(commandLine.dropFirst())
    var command = "run"
    if let first = arguments.first, !first.hasPrefix("-") { command = first; arguments.removeFirst() }
    var configPath: String?
    var json = false
    while let argument = arguments.first {
        arguments.removeFirst()
        switch argument {
        case "-c", "--config":
            guard let path = arguments.first else { fail("-c needs a path") }
            configPath = path
            arguments.removeFirst()
        case "--json": json = true
        case "-h", "--help": print(usage); exit(0)
        default: fail("unknown argument '\(argument)'\n\(usage)", code: 64)
        }
    }

    switch command {
    case "check-config":
        let configuration = loadConfiguration(configPath)
        do throws(FileError) { _ = try configuration.resolvingSecretFiles() } catch {
            fail("broker.password_file: \(error)")
        }
        print("\(configPath ?? AgentConfiguration.defaultPath) is valid:")
        for line in configuration.summary { print("  \(line)") }
    case "status":
        let configuration = loadConfiguration(configPath)
        let text: String
        do throws(FileError) {
            text = String(decoding: try FileIO.read(configuration.resolvedStatusFile, maxBytes: 1 << 20), as: UTF8.self)
        } catch {
            fail("no status yet: \(error) (is the agent running with this configuration?)")
        }
        if json { print(text, terminator: "") } else {
            // A readable rendering of the flat JSON object the agent writes.
            for (key, value) in AgentStatus.fields(inJSON: text) {
                print("\(String(key.map { $0 == "_" ? " " : $0 })): \(value)")
            }
        }
    case "device-id":
        // The id is the broker username and the account: provisioning needs it
        // before the first start, on a device that has no other Kognita tool.
        let configuration = loadConfiguration(configPath)
        mkdir(configuration.stateDirectory, 0o700)
        do throws(KeyFileError) { print(try AgentCore.loadOrCreateKey(at: configuration.keyPath).publicKey.hex) } catch {
            fail("cannot read or create the device key: \(error)")
        }
    case "run":
        let configuration = loadConfiguration(configPath)
        let resolved: AgentConfiguration
        do throws(FileError) { resolved = try configuration.resolvingSecretFiles() } catch { fail("cannot start: \(error)") }
        let agent: AgentLoop
        do throws(AgentError) { agent = try AgentLoop(resolved) } catch { fail("cannot start: \(error)") }
        do throws(AgentError) { try agent.run() } catch { fail("stopped on an error: \(error)") }
    default:
        fail("unknown command '\(command)'\n\(usage)", code: 64)
    }
    return 0
}
