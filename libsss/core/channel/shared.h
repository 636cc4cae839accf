// State of an Endpoint that its sessions and channels use: configuration, the event queue, the global
// stream-handle table, listeners and tracing.
#pragma once

#include "channel/endpoint.h"
#include "crypto/sodium.h"

#include <QSet>
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
