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
//
// A request or an answer that arrives whole is reported by NewSubstream (a request), Readable and
// Finished, queued one right after the other for the same stream while its packet is processed,
// i.e. before the answer can be sent. fold() lets the Readable and the Finished that follow their
// stream's event share its slot: the slot turns into the next one when the one before is popped.
// pollEvent() sees exactly the same sequence; the queueing costs a flag instead of a slot each.
class EventQueue
{
public:
    bool empty() const { return head_ == end_; }
    size_t size() const { return end_ - head_; }
    size_t capacity() const { return items_.capacity(); }
    void push_back(Event e) { emplace(e.type) = std::move(e); }
    Event &emplace(Event::Type t)
    {
        if (end_ == items_.size())
            return append(t);
        Slot &slot = items_[end_++];
        reset(slot, t);
        return slot.event;
    }
    // Queues the Readable or Finished event `t` of `stream` by folding it into the last queued
    // event, if that is one of the same stream that it may directly follow (NewSubstream before
    // Readable before Finished). False if it must be queued on its own.
    bool fold(Event::Type t, StreamHandle stream, StreamHandle parent)
    {
        if (empty())
            return false;
        Slot &last = items_[end_ - 1];
        if (last.event.stream != stream || last.event.parent != parent)
            return false;
        const quint8 bit = t == Event::Type::Readable ? kThenReadable : kThenFinished;
        if (last.then) {
            if (last.then >= bit) // (the same or a later one follows already)
                return false;
        } else if (!(last.event.type == Event::Type::NewSubstream
                     || (last.event.type == Event::Type::Readable && bit == kThenFinished))) {
            return false;
        }
        last.then |= bit;
        return true;
    }
    Event &front() { return items_[head_].event; }
    void pop_front()
    {
        Slot &first = items_[head_];
        if (first.then) { // the next event shares this slot (fold())
            first.event.type = first.then & kThenReadable ? Event::Type::Readable : Event::Type::Finished;
            first.then &= quint8(first.then - 1); // (the lowest flag)
            return;
        }
        if (++head_ == end_) {
            // Keep a small array for the next turn; give back what a burst grew.
            if (items_.capacity() > kKeep)
                items_ = std::vector<Slot>();
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
        Event &in = items_[head_].event;
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
    static constexpr quint8 kThenReadable = 1, kThenFinished = 2; // (in the order they follow)
    struct Slot {
        explicit Slot(Event::Type t) : event(t) { }
        Event event;
        quint8 then = 0; // events folded into this slot, to follow it (kThen...)
    };
    // Moving a null string still costs a swap and a destructor call: most events carry none.
    template<typename S> static void take(S &to, S &from)
    {
        if (!from.isNull() || !to.isNull())
            to = std::move(from);
    }
    // The hot path of emplace() (a reused slot whose strings takeFront moved out) calls nothing, so
    // it saves no registers; the rest is out of line.
    static void reset(Slot &slot, Event::Type t)
    {
        Event &e = slot.event;
        if (!e.peerId.isNull() || !e.service.isNull() || !e.protocol.isNull() || !e.message.isNull())
            clearStrings(e);
        slot.then = 0;
        e.type = t;
        e.stream = e.parent = 0;
        e.error = StreamError::NoError;
        e.count = 0;
        e.value = 0;
        e.status = LinkStatus::Down;
    }
    Q_NEVER_INLINE static void clearStrings(Event &e)
    {
        e.peerId = QByteArray();
        e.service = QString();
        e.protocol = QString();
        e.message = QString();
    }
    Q_NEVER_INLINE Event &append(Event::Type t)
    {
        ++end_;
        return items_.emplace_back(t).event;
    }

    static constexpr size_t kKeep = 64;
    std::vector<Slot> items_; // [head_, end_) queued; slots past end_ are spare
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
