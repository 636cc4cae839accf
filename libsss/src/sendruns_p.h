// How the Host's driver hands its outgoing packets to the platform: one GSO run per send.
#pragma once

#include "common/types.h"
#include "udptransport.h"

#include <utility>
#include <vector>

namespace sss::detail {

// Polls packets into `batch` with poll(core::Transmit &) -> bool and passes them to
// send(const core::Transmit *, qsizetype) in chunks that each fill one UDP_SEGMENT run and no more:
// a chunk ends before the packet that would take it past UdpTransport::kMaxRunBytes or
// kMaxRunDatagrams (45 packets of 1,452 bytes, 53 of 1,232). A fixed count of 48 went out at 1,452
// bytes as runs of 45 and 3, and the runt's kernel cost was ~6% of a bulk sender's CPU. Sending each
// chunk as soon as it is sealed also keeps its bytes in cache for the kernel's copy. The Transmits in
// `batch` keep their buffers across calls (the core refills them in place). Returns the packet count.
template<typename Poll, typename Send>
qsizetype sendInRuns(std::vector<core::Transmit> &batch, Poll &&poll, Send &&send)
{
    if (batch.size() < size_t(UdpTransport::kMaxRunDatagrams))
        batch.resize(size_t(UdpTransport::kMaxRunDatagrams));
    qsizetype total = 0;
    qsizetype n = 0;
    qsizetype bytes = 0;
    while (poll(batch[size_t(n)])) {
        ++total;
        const qsizetype size = batch[size_t(n)].bytes.size();
        if (n > 0 && bytes + size > UdpTransport::kMaxRunBytes) {
            send(batch.data(), n);
            std::swap(batch[0], batch[size_t(n)]); // the new packet opens the next chunk
            n = 0;
            bytes = 0;
        }
        bytes += size;
        if (++n == UdpTransport::kMaxRunDatagrams) {
            send(batch.data(), n);
            n = 0;
            bytes = 0;
        }
    }
    if (n > 0)
        send(batch.data(), n);
    return total;
}

} // namespace sss::detail
