// State of an Endpoint that its sessions and channels use: configuration, the event queue, the global
// stream-handle table, listeners and tracing.
#pragma once

#include "channel/endpoint.h"
#include "crypto/sodium.h"

#include <QSet>
#include <algorithm>
#include <deque>
#include <unordered_map>

namespace sss::core {

class Session;

struct HandleRef {
    Session *session = nullptr;
    quint64 wireId = 0;
};

struct EndpointShared {
    EndpointConfig config;
    std::deque<Event> events;
    std::unordered_map<StreamHandle, HandleRef> handles;
    StreamHandle nextHandle = 1;
    QSet<QPair<QString, QString>> listeners;
    bool tracing = false;
    std::deque<TraceEvent> traces;
    Instant lastNow {};
    crypto::RandomSource random;

    // Packets are decrypted into this slab, many per allocation; stream data keeps slices of it.
    // One per endpoint, not per channel, so idle channels hold none. Written only past rxSlabUsed
    // (through constData: the slab is shared with those slices and must not detach). Slabs start
    // small and double while packets keep coming, so an endpoint that receives little holds little.
    static constexpr qsizetype kRxSlabMin = 4 * 1024, kRxSlabMax = 64 * 1024;
    QByteArray rxSlab;
    qsizetype rxSlabUsed = 0;
    qsizetype rxSlabNext = kRxSlabMin;

    // Room for `n` bytes at rxSlab.constData() + rxSlabUsed. Nobody else referencing the slab means
    // every slice of it is gone: rewind and reuse it, else start a fresh one when it is full.
    char *rxSlabSpace(qsizetype n)
    {
        if (rxSlab.isDetached())
            rxSlabUsed = 0;
        if (rxSlab.size() - rxSlabUsed < n) {
            rxSlab = QByteArray(std::max(rxSlabNext, n), Qt::Uninitialized);
            rxSlabNext = std::min(rxSlabNext * 2, kRxSlabMax);
            rxSlabUsed = 0;
        }
        return const_cast<char *>(rxSlab.constData()) + rxSlabUsed;
    }
    // On timeouts (the endpoint is not busy receiving): give the slab back. Slices still
    // referencing it keep it alive; we just never write into it again.
    void releaseRxSlab()
    {
        rxSlab = QByteArray();
        rxSlabUsed = 0;
        rxSlabNext = kRxSlabMin;
    }

    quint64 randomU64()
    {
        quint64 v = 0;
        random(reinterpret_cast<uint8_t *>(&v), sizeof v);
        return v;
    }

    StreamHandle newHandle(Session *s, quint64 wireId)
    {
        const StreamHandle h = nextHandle++;
        handles.emplace(h, HandleRef {s, wireId});
        return h;
    }
    void trace(Instant t, const char *name, QString detail)
    {
        if (!tracing)
            return;
        if (traces.size() >= 100000)
            traces.pop_front();
        traces.push_back(TraceEvent {t, QString::fromLatin1(name), std::move(detail)});
    }
};

} // namespace sss::core
