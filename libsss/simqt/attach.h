// Runs a public sss::Host on the simulator: the Host sends and receives through a simulated socket
// and its one timer, posted flushes and clock all use the Simulator's virtual time. Tests then drive
// everything with Simulator::runUntil() and observe the QObject API with QSignalSpy.
#pragma once

#include "sim/network.h"

#include <QtGlobal>

namespace sss {
class Host;
}

namespace sss::sim {

// Binds `host` to port `port` of `simHost` (0 = ephemeral). Returns false if the Host is already
// bound or the port is taken. The Simulator (and Network) must outlive the Host or its close().
// Blocking waits (Stream::waitFor...) return false at once on such a Host.
bool attachHost(sss::Host *host, sss::sim::Host *simHost, quint16 port = 0);

} // namespace sss::sim
