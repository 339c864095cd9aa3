// The process and port helpers live in KognitaSystem (the devnet uses them too).
@_exported import KognitaSystem
