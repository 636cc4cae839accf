// State of an Endpoint that its sessions and channels use: configuration, the event queue, the global
// stream-handle table, listeners and tracing.
#pragma once

#include "channel/endpoint.h"
#include "common/slottable.h"
#include "crypto/sodium.h"
#include "streams/sendbuffer.h"
#include "wire/frames.h"

#include <QSet>
#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

namespace sss::core {

class Session;
struct StreamState;

// What a stream handle names. Valid while the handle is: a StreamState is only freed or recycled
// after dropHandle().
struct HandleRef {
    Session *session = nullptr;
    StreamState *stream = nullptr;
};

// FIFO of events that keeps its storage: a std::deque allocates a block every few events (an
// Event is ~150 bytes), and request/response traffic produces three or four per request. Slots
// are reused, not destroyed and rebuilt: an event is written into a slot a delivered one left,
// and handed out (takeFront) by moving only the strings it carries, which are rarely any.
class EventQueue
{
public:
    bool empty() const { return head_ == end_; }
    size_t size() const { return end_ - head_; }
    size_t capacity() const { return items_.capacity(); }
    void push_back(Event e) { emplace(e.type) = std::move(e); }
    Event &emplace(Event::Type t)
    {
        if (end_ == items_.size()) {
            ++end_;
            return items_.emplace_back(t);
        }
        Event &e = items_[end_++];
        reset(e, t);
        return e;
    }
    Event &front() { return items_[head_]; }
    void pop_front()
    {
        if (++head_ == end_) {
            // Keep a small array for the next turn; give back what a burst grew.
            if (items_.capacity() > kKeep)
                items_ = std::vector<Event>();
            head_ = end_ = 0;
        } else if (head_ >= 1024 && head_ * 2 >= end_) {
            // A consumer that never empties the queue: drop the consumed prefix now and then.
            items_.erase(items_.begin(), items_.begin() + std::ptrdiff_t(head_));
            end_ -= head_;
            head_ = 0;
        }
    }
    // Moves the front event into `out` and pops it.
    void takeFront(Event &out)
    {
        Event &in = items_[head_];
        out.type = in.type;
        out.stream = in.stream;
        out.parent = in.parent;
        take(out.peerId, in.peerId);
        take(out.service, in.service);
        take(out.protocol, in.protocol);
        out.error = in.error;
        take(out.message, in.message);
        out.count = in.count;
        out.value = in.value;
        out.status = in.status;
        pop_front();
    }

private:
    struct Members { // Event's, in order: a new member changes the size (most likely)
        Event::Type type;
        StreamHandle stream, parent;
        QByteArray peerId;
        QString service, protocol;
        StreamError error;
        QString message;
        qint64 count;
        int value;
        LinkStatus status;
    };
    static_assert(sizeof(Event) == sizeof(Members),
                  "a new Event member must be handled by takeFront and reset");
    // Moving a null string still costs a swap and a destructor call: most events carry none.
    template<typename S> static void take(S &to, S &from)
    {
        if (!from.isNull() || !to.isNull())
            to = std::move(from);
    }
    static void reset(Event &e, Event::Type t)
    {
        e.type = t;
        e.stream = e.parent = 0;
        if (!e.peerId.isNull()) // (what takeFront moved out is null already)
            e.peerId = QByteArray();
        if (!e.service.isNull())
            e.service = QString();
        if (!e.protocol.isNull())
            e.protocol = QString();
        e.error = StreamError::NoError;
        if (!e.message.isNull())
            e.message = QString();
        e.count = 0;
        e.value = 0;
        e.status = LinkStatus::Down;
    }

    static constexpr size_t kKeep = 64;
    std::vector<Event> items_; // [head_, end_) queued; slots past end_ are spare
    size_t head_ = 0, end_ = 0;
};

struct EndpointShared {
    EndpointConfig config;
    EventQueue events;
    SlotTable<HandleRef> handles;
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
    static constexpr int kRxSpares = 4;
    QByteArray rxSlab;
    qsizetype rxSlabUsed = 0;
    qsizetype rxSlabNext = kRxSlabMin;
    // Recently filled slabs, reused once the application has read (dropped) every slice of them:
    // a fresh allocation per slab would page-fault on every first touch.
    QByteArray rxSpares[kRxSpares];
    int rxSpareNext = 0;
    bool rxSinceTimeout = false;
    // Channel::handlePacket's parse targets (one packet is handled at a time): the first frames of
    // a packet are kept from the validating parse and applied from there.
    static constexpr int kKeptFrames = 4;
    wire::Frame rxFrames[kKeptFrames];
    wire::Frame rxFrame; // further frames (validated only; applied from a second parse)
    std::vector<Session *> reclaimPending; // sessions with queued reclaims (Session::maybeReclaim)
    // ACK frames held back until the turn's packets are sent (Channel::deferAck), oldest first; at
    // most one per channel. The frame is moved out of the parse target (its few ranges are flat).
    struct DeferredAck {
        Channel *channel = nullptr;
        Instant at;
        wire::AckFrame ack;
    };
    std::vector<DeferredAck> deferredAcks;

    // Room for `n` bytes at rxSlab.constData() + rxSlabUsed. Nobody else referencing a slab means
    // every slice of it is gone: only then is it rewound and written again.
    char *rxSlabSpace(qsizetype n)
    {
        rxSinceTimeout = true;
        if (rxSlab.isDetached())
            rxSlabUsed = 0;
        if (rxSlab.size() - rxSlabUsed < n) {
            QByteArray next;
            for (QByteArray &s : rxSpares) {
                if (s.size() >= n && s.isDetached()) {
                    next.swap(s);
                    break;
                }
            }
            if (next.isNull()) {
                next = QByteArray(std::max(rxSlabNext, n), Qt::Uninitialized);
                rxSlabNext = std::min(rxSlabNext * 2, kRxSlabMax);
            }
            // Retire the current slab into a free spare slot, else over the oldest (just a reference).
            QByteArray *slot = nullptr;
            for (QByteArray &s : rxSpares)
                if (s.isNull() && !slot)
                    slot = &s;
            if (!slot) {
                slot = &rxSpares[rxSpareNext];
                rxSpareNext = (rxSpareNext + 1) % kRxSpares;
            }
            *slot = std::move(rxSlab);
            rxSlab = std::move(next);
            rxSlabUsed = 0;
        }
        return const_cast<char *>(rxSlab.constData()) + rxSlabUsed;
    }

    // Small writes (a request, an answer) are copied into this slab and queued as slices of it,
    // many per allocation, instead of one allocation each. Written only past txSlabUsed; rewound
    // once no slice is left (all of them acknowledged or dropped). A slice held long (a stalled
    // stream) keeps its slab alive at most until its channel gives up.
    static constexpr qsizetype kTxSlab = 2048, kSmallWrite = 128;
    QByteArray txSlab;
    qsizetype txSlabUsed = 0;
    QByteArray copySmallWrite(const char *data, qsizetype n)
    {
        if (txSlab.isDetached())
            txSlabUsed = 0;
        if (txSlab.size() - txSlabUsed < n) {
            txSlab = QByteArray(kTxSlab, Qt::Uninitialized);
            txSlabUsed = 0;
        }
        std::memcpy(const_cast<char *>(txSlab.constData()) + txSlabUsed, data, size_t(n));
        txSlabUsed += n;
        return sharedSlice(txSlab, txSlabUsed - n, n);
    }

    // At a timeout, once every slice is gone (all small writes acknowledged), the slab goes: idle
    // hosts hold none. Timeouts are rare on a busy path (acknowledgements ride with the answers).
    void releaseTxSlab()
    {
        if (txSlab.isDetached()) {
            txSlab = QByteArray();
            txSlabUsed = 0;
        }
    }

    // On timeouts: unless slabs have grown and packets came since the last one, give them back.
    // Slices still referencing them keep them alive; we just never write into them again.
    void releaseRxSlab()
    {
        if (rxSinceTimeout && rxSlab.size() > kRxSlabMin) { // busy receiving: keep them
            rxSinceTimeout = false;
            return;
        }
        rxSlab = QByteArray();
        for (QByteArray &s : rxSpares)
            s = QByteArray();
        rxSlabUsed = 0;
        rxSlabNext = kRxSlabMin;
    }

    quint64 randomU64()
    {
        quint64 v = 0;
        random(reinterpret_cast<uint8_t *>(&v), sizeof v);
        return v;
    }

    // Every stream leaves its session's table only after dropHandle() (reclaim, failAll, ~Session).
    StreamHandle newHandle(Session *s, StreamState *st) { return handles.add({s, st}); }
    void dropHandle(StreamHandle h) { handles.remove(h); }
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
