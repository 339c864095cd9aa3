import CMosquitto

/// Calls libmosquitto, so the test binary must link it: proves `make setup`
/// installed libmosquitto-dev and the CMosquitto module map is right.
func mosquittoVersion(_ major: inout Int32, _ minor: inout Int32, _ revision: inout Int32) -> Int32 {
    mosquitto_lib_version(&major, &minor, &revision)
}
