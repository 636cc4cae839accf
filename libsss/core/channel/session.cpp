#include "session.h"

#include "channel/channel.h"
#include "channel/shared.h"

#include <algorithm>
#include <utility>

namespace sss::core {

using wire::FrameType;
using wire::StreamKind;

namespace {
enum ParamId : quint64 {
    PSessionId = 1,
    PResume = 2,
    PMaxData = 3,
    PMaxStreamData = 4,
    PMaxStreams = 5,
    PIdleTimeout = 6,
    PMaxDatagram = 7,
};
constexpr qsizetype kMinStreamFrameSpace = 24; // don't start a stream frame with less room than this
// Received stream segments shorter than this are copied out of the receive slab instead of sliced.
constexpr qsizetype kMinSharedSegment = 512;
// (Out of line: most events carry no message, and the call would cost their queueing saved registers.)
Q_NEVER_INLINE void setMessage(Event &e, const QString &message)
{
    e.message = message;
}
} // namespace

QByteArray TransportParams::encode() const
{
    QByteArray out;
    Writer w(out);
    auto num = [&w](quint64 id, quint64 v) {
        w.varint(id);
        w.varint(quint64(varintSize(v)));
        w.varint(v);
    };
    w.varint(PSessionId);
    w.varint(quint64(sessionId.size()));
    w.bytes(sessionId);
    num(PResume, resume ? 1 : 0);
    num(PMaxData, initialMaxData);
    num(PMaxStreamData, initialMaxStreamData);
    num(PMaxStreams, initialMaxStreams);
    num(PIdleTimeout, idleTimeoutMs);
    num(PMaxDatagram, maxDatagramSize);
    return out;
}

std::optional<TransportParams> TransportParams::decode(const QByteArray &b)
{
    TransportParams p;
    Reader r(b);
    while (!r.atEnd()) {
        const quint64 id = r.varint();
        const quint64 len = r.varint();
        if (!r.ok() || len > quint64(r.remaining()))
            return std::nullopt;
        Reader v(r.bytes(qsizetype(len)), qsizetype(len));
        switch (id) {
        case PSessionId:
            p.sessionId = v.byteArray(qsizetype(len));
            break;
        case PResume:
            p.resume = v.varint() != 0;
            break;
        case PMaxData:
            p.initialMaxData = v.varint();
            break;
        case PMaxStreamData:
            p.initialMaxStreamData = v.varint();
            break;
        case PMaxStreams:
            p.initialMaxStreams = v.varint();
            break;
        case PIdleTimeout:
            p.idleTimeoutMs = v.varint();
            break;
        case PMaxDatagram:
            p.maxDatagramSize = v.varint();
            break;
        default:
            break; // unknown parameters are ignored (extensibility)
        }
        if (!v.ok())
            return std::nullopt;
    }
    if (p.sessionId.size() != 16 || p.maxDatagramSize < 1200 || p.initialMaxStreams == 0)
        return std::nullopt;
    return p;
}

Session::Session(EndpointShared &ep, const QByteArray &peerId, const QByteArray &sessionId, bool initiator)
    : ep_(ep), peerId_(peerId), sessionId_(sessionId), initiator_(initiator), streams_(ep.randomU64()),
      localMaxStreams_(ep.config.maxIncomingStreams),
      connWindow_(ep.config.initialConnectionWindow, ep.config.maxConnectionWindow),
      reassembler_(ep.config.maxDatagramReassembly, 5s)
{ }

Session::~Session()
{
    if (!reclaimQueue_.empty())
        std::erase(ep_.reclaimPending, this);
    streams_.forEach([this](quint64, std::unique_ptr<StreamState> &s) { ep_.dropHandle(s->handle); });
}

TransportParams Session::localParams(bool resume) const
{
    TransportParams p;
    p.sessionId = sessionId_;
    p.resume = resume;
    p.initialMaxData = ep_.config.initialConnectionWindow;
    p.initialMaxStreamData = ep_.config.initialStreamWindow;
    p.initialMaxStreams = ep_.config.maxIncomingStreams;
    p.idleTimeoutMs
        = quint64(std::chrono::duration_cast<std::chrono::milliseconds>(ep_.config.idleTimeout).count());
    // What we accept, not what we send: the edges take any UDP datagram, so a peer's path MTU
    // discovery is bounded by the path and its own limit only.
    p.maxDatagramSize = quint64(kMaxMaxDatagramSize);
    return p;
}

void Session::setPeerParams(const TransportParams &p)
{
    const bool first = peer_.initialMaxStreams == 0;
    peer_ = p;
    if (first) {
        connCredit_.raise(p.initialMaxData);
        peerMaxStreams_ = std::max(peerMaxStreams_, p.initialMaxStreams);
        streams_.forEach([&](quint64, std::unique_ptr<StreamState> &s) {
            if (s->local)
                s->credit.raise(p.initialMaxStreamData);
        });
    }
    // Streams opened before the peer's limits were known may now proceed.
    while (!blockedOpens_.empty() && (blockedOpens_.front() >> 1) < peerMaxStreams_) {
        if (StreamState *s = stream(blockedOpens_.front())) {
            s->blockedByStreamLimit = false;
            activate(*s);
        }
        blockedOpens_.pop_front();
    }
    // Their control frames (a RESET of a stream reset while it waited, ...) may go now, in order.
    if (!heldControl_.empty()) {
        std::vector<SentFrame> still;
        for (const SentFrame &c : heldControl_) {
            if ((c.stream >> 1) < peerMaxStreams_)
                control_.push_back(c);
            else
                still.push_back(c);
        }
        heldControl_.swap(still);
    }
}

void Session::attachChannel(Channel *c)
{
    channel_ = c;
    channelLostAt = kNever;
    reconnectAttempts = 0;
    nextReconnect = kNever;
    streams_.forEach([this](quint64, std::unique_ptr<StreamState> &s) { activate(*s); });
}

void Session::detachChannel()
{
    channel_ = nullptr;
}

StreamState *Session::stream(quint64 wireId)
{
    // Bulk transfer looks up the same stream for every packet sent and acked: skip the table.
    if (wireId == lastStreamId_ && wireId != 0)
        return lastStream_;
    const std::unique_ptr<StreamState> *s = streams_.find(wireId);
    if (!s || !*s) // (id 0 finds a free entry)
        return nullptr;
    lastStreamId_ = wireId;
    lastStream_ = s->get();
    return lastStream_;
}

StreamState &Session::createStream(quint64 wireId, bool local)
{
    Q_ASSERT(wireId != 0);
    std::unique_ptr<StreamState> &s = streams_.add(wireId);
    s = spareStream_ ? std::move(spareStream_) : std::make_unique<StreamState>(); // (recycled by reclaim())
    StreamState &ref = *s;
    initStream(ref, wireId, local);
    return ref;
}

void Session::initStream(StreamState &s, quint64 wireId, bool local)
{
    s.wireId = wireId;
    s.local = local;
    s.sched.stream = &s;
    s.handle = ep_.newHandle(this, &s);
    s.credit = SendCredit(peer_.initialMaxStreamData);
    s.window = ReceiveWindow(ep_.config.initialStreamWindow, ep_.config.maxStreamWindow);
}

StreamHandle Session::openTopLevel(Instant, const QString &service, const QString &protocol)
{
    const quint64 id = (nextLocalSeq_++ << 1) | localSide();
    StreamState &s = createStream(id, true);
    s.topLevel = true;
    s.service = service;
    s.protocol = protocol;
    if ((id >> 1) >= peerMaxStreams_) {
        s.blockedByStreamLimit = true;
        blockedOpens_.push_back(id);
    }
    activate(s);
    return s.handle;
}

StreamHandle Session::openSubstream(Instant, StreamState &parent, StreamKind kind)
{
    const quint64 id = (nextLocalSeq_++ << 1) | localSide();
    StreamState &s = createStream(id, true);
    s.parent = parent.handle;
    s.parentWireId = parent.wireId;
    s.kind = kind;
    s.priority = parent.priority; // inherited as a default only
    // A child starts with its parent's current receive window (it grows on its own afterwards).
    s.window = ReceiveWindow(std::max<quint64>(parent.window.windowSize(), ep_.config.initialStreamWindow),
                             ep_.config.maxStreamWindow);
    ++parent.childCount;
    if ((id >> 1) >= peerMaxStreams_) {
        s.blockedByStreamLimit = true;
        blockedOpens_.push_back(id);
    }
    activate(s);
    return s.handle;
}

bool Session::hasSendable(const StreamState &s) const
{
    if (s.blockedByStreamLimit || s.resetSent)
        return false;
    if (!s.outDatagrams.empty())
        return true;
    if (!s.openSent && s.local && !s.resetQueued)
        return true; // an empty open frame announces the stream (a reset one is announced by its RESET)
    const quint64 limit = std::min<quint64>(s.credit.limit(), s.send.sentOffset() + connAvailable());
    return s.send.hasSendable(limit);
}

void Session::activate(StreamState &s)
{
    if (!channel_ || PriorityScheduler::isActiveAt(s.sched, s.priority))
        return; // (already queued: nothing to re-check)
    if (hasSendable(s))
        scheduler_.setActive(s.sched, s.priority);
}

void Session::queueControl(SentFrame::Kind k, quint64 stream)
{
    const SentFrame c {k, 0, 0, stream, 0};
    if (stream && isLocalId(stream) && (stream >> 1) >= peerMaxStreams_)
        heldControl_.push_back(c); // the stream waits for stream credit (blockedOpens_)
    else
        control_.push_back(c);
}

bool Session::writeControl(Writer &w, qsizetype space, SentFrames &records, const SentFrame &c)
{
    // Control frames always carry the *current* value, so a lost one is simply queued again.
    QByteArray tmp;
    Writer t(tmp);
    StreamState *s = c.stream ? stream(c.stream) : nullptr;
    switch (c.kind) {
    case SentFrame::ResetStream:
        if (!s || s->resetAcked)
            return true;
        wire::writeReset(t, s->wireId, s->resetCode, s->send.sentOffset());
        break;
    case SentFrame::StopSending:
        if (!s || s->recvDone())
            return true;
        wire::writeSimple2(t, FrameType::StopSending, s->wireId, s->stopCode);
        break;
    case SentFrame::MaxStreamData:
        if (!s || s->recvDone() || s->discarding)
            return true;
        wire::writeSimple2(t, FrameType::MaxStreamData, s->wireId, s->window.limit());
        break;
    case SentFrame::Priority:
        if (!s)
            return true;
        wire::writePriority(t, s->wireId, s->priority, s->priorityVersion);
        break;
    case SentFrame::Accept:
        if (!s)
            return true;
        wire::writeSimple(t, FrameType::Accept, s->wireId);
        break;
    case SentFrame::EndUnseen:
        wire::writeReset(t, c.stream, 0, 0);
        break;
    case SentFrame::MaxData:
        wire::writeSimple(t, FrameType::MaxData, connWindow_.limit());
        break;
    case SentFrame::MaxStreams:
        wire::writeSimple(t, FrameType::MaxStreams, localMaxStreams_);
        break;
    case SentFrame::StreamData:
        return true;
    }
    if (tmp.size() > space)
        return false;
    w.bytes(tmp);
    SentFrame r = c;
    if (c.kind == SentFrame::Priority && s)
        r.offset = s->priorityVersion;
    records.append(r);
    if (s) {
        if (c.kind == SentFrame::ResetStream)
            s->resetSent = true;
        if (c.kind == SentFrame::StopSending)
            s->stopSent = true;
        if (c.kind == SentFrame::MaxStreamData)
            s->maxStreamDataQueued = false;
        if (c.kind == SentFrame::Priority)
            s->priorityQueued = false;
    }
    return true;
}

void Session::fill(Instant now, Writer &w, qsizetype space, SentFrames &records, bool &ackEliciting)
{
    const qsizetype start = w.size();
    auto left = [&] { return space - (w.size() - start); };

    if (maxDataQueued_) {
        if (writeControl(w, left(), records, SentFrame {SentFrame::MaxData, 0, 0, 0, 0})) {
            maxDataQueued_ = false;
            ackEliciting = true;
        }
    }
    if (maxStreamsQueued_) {
        if (writeControl(w, left(), records, SentFrame {SentFrame::MaxStreams, 0, 0, 0, 0})) {
            maxStreamsQueued_ = false;
            ackEliciting = true;
        }
    }
    while (!control_.empty()) {
        if (!writeControl(w, left(), records, control_.front()))
            break;
        control_.pop_front();
        ackEliciting = true;
    }

    // Stream data and datagrams in priority order; round-robin within a level, one frame per turn.
    while (left() > kMinStreamFrameSpace) {
        PriorityScheduler::Node *next = scheduler_.front();
        if (!next)
            break;
        StreamState *s = static_cast<StreamNode *>(next)->stream;
        if (!hasSendable(*s)) {
            scheduler_.remove(*next);
            continue;
        }
        bool wrote = false;
        // Best-effort datagrams first (they are the latency-sensitive part of a stream).
        while (!s->outDatagrams.empty() && s->outDatagrams.front().expiry <= now) {
            s->outDatagramBytes -= s->outDatagrams.front().data.size();
            s->outDatagrams.pop_front();
        }
        if (!s->outDatagrams.empty()) {
            OutDatagram &d = s->outDatagrams.front();
            const quint64 total = quint64(d.data.size());
            const qsizetype hdr = wire::datagramHeaderSize(s->wireId, d.id, total, quint64(d.sent), left());
            const qsizetype n = std::min<qsizetype>(d.data.size() - d.sent, left() - hdr);
            if (n > 0) {
                wire::writeDatagramHeader(w, s->wireId, d.id, total, quint64(d.sent), n);
                w.bytes(d.data.constData() + d.sent, n);
                d.sent += n;
                wrote = true;
                ackEliciting = true;
                if (d.sent == d.data.size()) {
                    s->outDatagramBytes -= d.data.size();
                    s->outDatagrams.pop_front();
                }
            }
        } else {
            const wire::OpenInfo *open = nullptr;
            wire::OpenInfo info;
            if (s->local && !s->openAcked) {
                info.parent = s->parentWireId;
                info.priority = s->priority;
                info.kind = s->kind;
                if (!s->parentWireId) { // (only a top-level open names them: no copies per substream)
                    info.service = s->service;
                    info.protocol = s->protocol;
                }
                open = &info;
            }
            const quint64 limit
                = std::min<quint64>(s->credit.limit(), s->send.sentOffset() + connAvailable());
            const qsizetype hdr
                = wire::streamHeaderSize(s->wireId, s->send.sentOffset() + 0xffffff, left(), open);
            const qsizetype room = left() - hdr;
            if (room >= 0) {
                // The bytes go straight from the send buffer into the packet (one copy).
                std::optional<SendBuffer::Chunk> c = s->send.nextRange(room, limit);
                if (c || (open && !s->openSent)) {
                    const quint64 off = c ? c->offset : s->send.sentOffset();
                    const qsizetype len = c ? qsizetype(c->length) : 0;
                    const bool fin = c && c->fin;
                    const bool eom = c && c->messageEnd;
                    char *data = wire::writeStreamFrame(w, s->wireId, off, len, fin, eom, open);
                    s->send.copyOut(off, len, data);
                    const quint64 end = off + quint64(len);
                    if (c && !c->retransmission && end > s->creditedSent) {
                        connSent_ += end - std::max(off, s->creditedSent);
                        s->creditedSent = end;
                    }
                    SentFrame r {SentFrame::StreamData, 0, quint32(len), s->wireId, off};
                    if (fin)
                        r.flags |= SentFrame::kFin;
                    if (open)
                        r.flags |= SentFrame::kOpen;
                    records.append(r);
                    s->openSent = true;
                    wrote = true;
                    ackEliciting = true;
                }
            }
        }
        if (!wrote)
            break; // not even one frame fits: the packet is full
        if (hasSendable(*s))
            scheduler_.rotate(s->sched);
        else
            scheduler_.remove(s->sched);
    }
}

void Session::onFramesAcked(const SentFrames &frames)
{
    for (const SentFrame &f : frames) {
        if (f.kind == SentFrame::StreamData && f.stream && f.length > 0 && !(f.flags & SentFrame::kFin)) {
            if (ackedRun_.stream == f.stream && ackedRun_.end == f.offset && !(f.flags & SentFrame::kOpen)) {
                ackedRun_.end += f.length; // one send-buffer update per run, not per packet
                continue;
            }
            if (ackedRun_.stream != f.stream) {
                // Bring this stream's waiting run forward (if any), parking the current one.
                auto it = std::find_if(otherRuns_.begin(), otherRuns_.end(),
                                       [&](const AckedRun &r) { return r.stream == f.stream; });
                if (it != otherRuns_.end()) {
                    std::swap(ackedRun_, *it);
                    if (!it->stream) { // (nothing was current: drop the emptied slot)
                        *it = otherRuns_.back();
                        otherRuns_.pop_back();
                    }
                } else if (ackedRun_.stream) {
                    if (otherRuns_.size() + 1 >= kMaxAckedRuns)
                        flushAckedRuns();
                    else
                        otherRuns_.push_back(ackedRun_);
                    ackedRun_ = {};
                }
                if (ackedRun_.stream == f.stream && ackedRun_.end == f.offset
                    && !(f.flags & SentFrame::kOpen)) {
                    ackedRun_.end += f.length;
                    continue;
                }
            }
            if (ackedRun_.stream) { // this stream's run, but not continued by this frame
                const AckedRun run = std::exchange(ackedRun_, AckedRun {});
                if (StreamState *s = stream(run.stream))
                    applyStreamAck(*s, run.start, run.end - run.start, false);
            }
            StreamState *s = stream(f.stream);
            if (!s)
                continue;
            if (f.flags & SentFrame::kOpen)
                s->openAcked = true;
            if (!s->resetQueued) {
                ackedRun_ = {f.stream, f.offset, f.offset + f.length};
                continue;
            }
        }
        // Anything else sees the send buffers as if every frame before it had been applied.
        flushAckedRuns();
        StreamState *s = f.stream ? stream(f.stream) : nullptr;
        switch (f.kind) {
        case SentFrame::StreamData:
            if (!s)
                break;
            if (f.flags & SentFrame::kOpen)
                s->openAcked = true;
            applyStreamAck(*s, f.offset, f.length, f.flags & SentFrame::kFin);
            break;
        case SentFrame::ResetStream:
            if (s) {
                s->resetAcked = true;
                maybeReclaim(*s);
            }
            break;
        default:
            break;
        }
    }
}

void Session::onFramesLost(const SentFrames &frames)
{
    for (const SentFrame &f : frames) {
        StreamState *s = f.stream ? stream(f.stream) : nullptr;
        switch (f.kind) {
        case SentFrame::StreamData:
            if (!s || s->resetQueued)
                break;
            s->send.onLost(f.offset, f.length, f.flags & SentFrame::kFin);
            if ((f.flags & SentFrame::kOpen) && !s->openAcked && f.length == 0)
                s->openSent = false; // resend the bare open announcement
            activate(*s);
            break;
        case SentFrame::ResetStream:
            if (s && !s->resetAcked)
                queueControl(f.kind, f.stream);
            break;
        case SentFrame::StopSending:
            if (s && !s->recvDone())
                queueControl(f.kind, f.stream);
            break;
        case SentFrame::MaxStreamData:
            if (s && !s->maxStreamDataQueued) {
                s->maxStreamDataQueued = true;
                queueControl(f.kind, f.stream);
            }
            break;
        case SentFrame::Priority:
            if (s && f.offset == s->priorityVersion && !s->priorityQueued) {
                s->priorityQueued = true;
                queueControl(f.kind, f.stream);
            }
            break;
        case SentFrame::Accept:
            if (s)
                queueControl(f.kind, f.stream);
            break;
        case SentFrame::EndUnseen:
            queueControl(f.kind, f.stream);
            break;
        case SentFrame::MaxData:
            maxDataQueued_ = true;
            break;
        case SentFrame::MaxStreams:
            maxStreamsQueued_ = true;
            break;
        }
    }
}

StreamState *Session::incomingStream(Instant now, quint64 id, const wire::OpenInfo *open, bool &violation)
{
    violation = false;
    const quint64 seq = id >> 1;
    if (!open || isLocalId(id)) {
        if (StreamState *s = stream(id))
            return s;
        // (Beyond the limit: never true of one seen before, the limit only grows.) Otherwise one
        // of ours that is already closed (late frames are ignored), a peer stream seen and
        // reclaimed, or (a peer's bug) data before the open info.
        violation = !isLocalId(id) && seq >= localMaxStreams_;
        return nullptr;
    }
    if (seq >= localMaxStreams_) {
        violation = true;
        return nullptr;
    }
    // Every peer stream's seq is recorded when it is created: a new one is created without a
    // stream-table lookup (every request opens one).
    if (peerSeqsSeen_.insert(seq) == 0)
        return stream(id); // open already (a repeated open frame), or closed and reclaimed
    ++liveIncoming_;
    StreamState &s = createStream(id, false);
    s.kind = open->kind;
    s.priority = int(open->priority);
    s.credit.raise(peer_.initialMaxStreamData);
    if (open->parent == 0) {
        s.topLevel = true;
        s.service = open->service;
        s.protocol = open->protocol;
        if (!ep_.listeners.contains(qMakePair(s.service, s.protocol))) {
            s.error = StreamError::ServiceNotFound;
            reset(s, StreamError::ServiceNotFound, false);
            return &s;
        }
        queueControl(SentFrame::Accept, id);
        Event e {Event::Type::NewConnection};
        e.stream = s.handle;
        e.peerId = peerId_;
        e.service = s.service;
        e.protocol = s.protocol;
        ep_.events.push_back(std::move(e));
    } else {
        s.parentWireId = open->parent;
        if (StreamState *parent = stream(open->parent)) {
            adoptChild(*parent, s);
        } else if ((open->parent & 1) != localSide() && !peerSeqsSeen_.contains(open->parent >> 1)
                   && (open->parent >> 1) < localMaxStreams_) {
            // The parent's open has not arrived yet (reordering): keep the child until it does.
            orphans_.emplace(open->parent, id);
        } else {
            reset(s, StreamError::SubstreamRefused, false); // the parent is gone
        }
    }
    // Children that arrived before this stream can now be attached to it.
    if (!orphans_.empty()) {
        auto range = orphans_.equal_range(id);
        std::vector<quint64> kids;
        for (auto it = range.first; it != range.second; ++it)
            kids.push_back(it->second);
        orphans_.erase(id);
        for (quint64 k : kids)
            if (StreamState *c = stream(k))
                adoptChild(s, *c);
    }
    Q_UNUSED(now);
    // A refused stream may have been reclaimed already (a full reclaim queue is swept at once).
    return s.reclaimQueued ? stream(id) : &s;
}

void Session::adoptChild(StreamState &parent, StreamState &s)
{
    if (parent.released || parent.resetQueued || parent.error != StreamError::NoError
        || (!parent.acceptSubstreams && s.kind == StreamKind::Stream)) {
        reset(s, StreamError::SubstreamRefused, false);
        return;
    }
    s.parent = parent.handle;
    ++parent.childCount;
    s.window = ReceiveWindow(std::max<quint64>(parent.window.windowSize(), ep_.config.initialStreamWindow),
                             ep_.config.maxStreamWindow);
    if (s.kind == StreamKind::Stream) {
        parent.pendingChildren.append(s.handle);
        Event &e = ep_.events.emplace(Event::Type::NewSubstream);
        e.stream = s.handle;
        e.parent = parent.handle;
        if (s.recv.bytesAvailable() > 0 || s.recv.finReceived()) {
            s.readableEventQueued = false;
            noteReadable(s);
        }
    } else if (s.recv.atEnd()) {
        deliverReliableDatagram(s);
    }
}

// A request or an answer that arrives whole queues its Readable and Finished right after its
// stream's previous event: they share its slot (EventQueue::fold), a flag instead of a slot each.
inline void Session::queueStreamEvent(Event::Type t, StreamState &s)
{
    if (!ep_.events.fold(t, s.handle, s.parent))
        emitStreamEvent(t, s);
}

bool Session::handleStreamFrame(Instant now, const wire::StreamFrame &f)
{
    bool violation = false;
    StreamState *s = incomingStream(now, f.id, f.open ? &*f.open : nullptr, violation);
    if (violation)
        return false;
    if (!s)
        return true;
    if (s->resetReceived || s->discarding) { // (a reset of our sending side does not stop us reading)
        // Keep no data, but account it so the connection window stays consistent with the peer's,
        // and remember where the peer's direction ends so the stream can be reclaimed.
        discardInput(*s, f.offset + quint64(f.length));
        if (f.fin && !s->resetReceived && !s->recv.finReceived())
            s->recv.insert(f.offset + quint64(f.length), QByteArray(), false, true, kVarintMax);
        maybeReclaim(*s);
        return true;
    }
    const quint64 end = f.offset + quint64(f.length);
    // Large segments stay slices of the decrypted packet (no copy). Small ones are copied: a slice
    // pins the whole receive slab, and an idle stream holding a few bytes must not keep 64 KiB.
    // The smallest (a request, an answer) go to the small-write slab, which pins at most 2 KiB,
    // instead of an allocation each.
    QByteArray data;
    if (f.length >= kMinSharedSegment && currentPacket_ && f.data >= currentPacket_
        && f.data + f.length <= currentPacketEnd_)
        data = sharedSlice(*currentSlab_, f.data - currentSlab_->constData(), f.length);
    else if (f.length > 0 && f.length <= EndpointShared::kSmallWrite)
        data = ep_.copySmallWrite(f.data, f.length);
    else if (f.length > 0)
        data = QByteArray(f.data, f.length);
    const RecvBuffer::Result r
        = s->recv.insert(f.offset, std::move(data), f.messageEnd, f.fin, s->window.limit());
    if (r == RecvBuffer::Result::FlowControlViolation || r == RecvBuffer::Result::FinalSizeViolation)
        return false;
    if (end > s->creditedReceive) {
        connReceived_ += end - s->creditedReceive;
        s->creditedReceive = end;
        if (connReceived_ > connWindow_.limit())
            return false;
    }
    if (s->kind == StreamKind::Datagram) {
        // Consume as it arrives so flow control keeps moving; deliver only when complete.
        if (s->recv.bytesAvailable() > 0) {
            const qint64 n = s->recv.bytesAvailable();
            if (s->datagramBuf.size() + n > ep_.config.maxDatagramReassembly * 8) {
                reset(*s, StreamError::Cancelled, false);
                return true;
            }
            s->datagramBuf.append(s->recv.read(n));
            consumeConnection(now, n);
            s->creditedConsumed += quint64(n);
            afterRead(now, *s);
        }
        if (s->recv.atEnd() && (s->local || stream(s->parentWireId)))
            deliverReliableDatagram(*s);
        return true;
    }
    if (s->recv.bytesAvailable() > 0 || s->recv.hasMessage())
        noteReadable(*s);
    // Finished means "no more data will come": only once everything up to the final size is here.
    if (s->recv.finReceived() && !s->finReported && s->recv.receivedContiguous() == *s->recv.finalSize()) {
        s->finReported = true;
        queueStreamEvent(Event::Type::Finished, *s);
    }
    maybeReclaim(*s);
    return true;
}

void Session::deliverReliableDatagram(StreamState &carrier)
{
    StreamState *parent = stream(carrier.parentWireId);
    const QByteArray data = std::exchange(carrier.datagramBuf, {});
    if (parent && !parent->released && !parent->discarding) {
        parent->inDatagrams.append(data);
        if (!parent->datagramEventQueued) {
            parent->datagramEventQueued = true;
            emitStreamEvent(Event::Type::DatagramReadable, *parent);
        }
    }
    // Our side of the carrier has nothing to say: finish it so both ends can reclaim it.
    carrier.released = true;
    carrier.discarding = true;
    shutdownWrite(carrier);
    maybeReclaim(carrier);
}

bool Session::handleFrame(Instant now, const wire::Frame &f)
{
    switch (f.type) {
    case FrameType::Stream:
        return handleStreamFrame(now, f.stream);
    case FrameType::MaxData:
        connCredit_.raise(f.a);
        streams_.forEach([this](quint64, std::unique_ptr<StreamState> &s) { activate(*s); });
        return true;
    case FrameType::MaxStreams:
        if (f.a > peerMaxStreams_) {
            peerMaxStreams_ = f.a;
            setPeerParams(peer_);
        }
        return true;
    case FrameType::MaxStreamData: {
        StreamState *s = stream(f.a);
        if (s) {
            s->credit.raise(f.b);
            activate(*s);
        } else if (beyondStreamLimit(f.a)) {
            traceBeyondStreamLimit(now, f.type, f.a);
        }
        return true;
    }
    case FrameType::ResetStream: {
        StreamState *s = stream(f.a);
        if (!s)
            return endUnseenPeerStream(f.a, f.c);
        if (s->resetReceived)
            return true;
        s->resetReceived = true;
        s->recv.clear();
        discardInput(*s, std::max<quint64>(f.c, s->creditedReceive));
        // RESET_STREAM ends only the peer's direction (an app-level reset also sends STOP_SENDING,
        // which ends ours). Code 0 is a quiet end: the answer to our own graceful release.
        const bool wasError = s->error != StreamError::NoError;
        if (f.b == 0 || s->released) {
            maybeReclaim(*s);
            return true;
        }
        if (!wasError) {
            s->error = f.b == quint64(StreamError::ServiceNotFound) ? StreamError::ServiceNotFound
                : f.b == quint64(StreamError::SubstreamRefused)     ? StreamError::SubstreamRefused
                                                                    : StreamError::ResetByPeer;
        }
        if (!wasError && s->kind == StreamKind::Stream)
            emitStreamEvent(
                Event::Type::Error, *s, s->error,
                s->error == StreamError::ServiceNotFound
                    ? QStringLiteral("no service is listening on %1/%2").arg(s->service, s->protocol)
                    : QString::fromLatin1(toString(s->error)));
        maybeReclaim(*s);
        return true;
    }
    case FrameType::StopSending: {
        StreamState *s = stream(f.a);
        if (!s && beyondStreamLimit(f.a))
            traceBeyondStreamLimit(now, f.type, f.a);
        if (!s || s->resetQueued || s->sendDone())
            return true;
        s->resetCode = f.b;
        s->resetQueued = true;
        s->send.clear();
        scheduler_.remove(s->sched);
        queueControl(SentFrame::ResetStream, s->wireId);
        // Code 0: the peer released the stream gracefully; our unsent data has nobody to read it.
        if (f.b != 0 && s->error == StreamError::NoError && !s->released) {
            s->error = StreamError::ResetByPeer;
            emitStreamEvent(Event::Type::Error, *s, s->error, QStringLiteral("the peer stopped reading"));
        }
        maybeReclaim(*s);
        return true;
    }
    case FrameType::Priority: {
        StreamState *s = stream(f.a);
        if (!s && beyondStreamLimit(f.a))
            traceBeyondStreamLimit(now, f.type, f.a);
        priorityClock_ = std::max(priorityClock_, f.b >> 1);
        if (!s || f.b <= s->priorityVersion)
            return true; // stale: latest value wins
        s->priorityVersion = f.b;
        if (s->priority != int(f.priority)) {
            s->priority = int(f.priority);
            if (PriorityScheduler::isActive(s->sched))
                scheduler_.setActive(s->sched, s->priority);
            Event e {Event::Type::PriorityChanged};
            e.stream = s->handle;
            e.value = s->priority;
            ep_.events.push_back(std::move(e));
        }
        return true;
    }
    case FrameType::Accept: {
        StreamState *s = stream(f.a);
        if (s && s->local && s->topLevel && !s->connected) {
            s->connected = true;
            s->openAcked = true; // the peer has the stream
            emitStreamEvent(Event::Type::Connected, *s);
        }
        return true;
    }
    case FrameType::Datagram: {
        const wire::DatagramFrame &d = f.datagram;
        StreamState *s = stream(d.stream);
        if (!s) {
            if (beyondStreamLimit(d.stream))
                traceBeyondStreamLimit(now, f.type, d.stream);
            return true;
        }
        DatagramFragment frag {d.id, d.totalSize, d.offset, QByteArray(d.data, d.length)};
        std::optional<QByteArray> whole = reassembler_.insert(frag, now);
        if (whole && !s->released && !s->discarding) {
            s->inDatagrams.append(*whole);
            if (!s->datagramEventQueued) {
                s->datagramEventQueued = true;
                emitStreamEvent(Event::Type::DatagramReadable, *s);
            }
        }
        return true;
    }
    default:
        return true; // channel-level frames are handled by the channel
    }
}

// Queues what fits of a write of `size` bytes: `chunk(n)` gives the first n bytes to keep. -1 if
// the direction is closed; a message is accepted whole or not at all.
template<typename Chunk> qint64 Session::queueWrite(StreamState &s, qint64 size, bool eom, Chunk &&chunk)
{
    if (s.sendShut || s.resetQueued || s.error != StreamError::NoError)
        return -1;
    const qint64 room = ep_.config.maxSendBufferPerStream - s.send.unackedBytes();
    const qint64 n = std::min(size, std::max<qint64>(room, 0));
    if (n < size && eom)
        return 0;
    if (n <= 0 && !(size == 0 && eom))
        return 0;
    s.send.append(chunk(n), eom);
    activate(s);
    return n;
}

qint64 Session::write(Instant, StreamState &s, const char *data, qint64 size, bool eom)
{
    return queueWrite(s, size, eom, [&](qint64 n) {
        return n <= EndpointShared::kSmallWrite ? ep_.copySmallWrite(data, n) : QByteArray(data, n);
    });
}

qint64 Session::write(Instant, StreamState &s, const QByteArray &data, bool eom)
{
    return queueWrite(s, data.size(), eom,
                      [&](qint64 n) { return n == data.size() ? data : sharedSlice(data, 0, n); });
}

void Session::consumeConnection(Instant now, qint64 n)
{
    const Duration srtt = channel_ ? channel_->smoothedRtt() : 100ms;
    connConsumed_ += quint64(n);
    connWindow_.onConsumed(connConsumed_, now, srtt);
    if (connWindow_.pollUpdate(now, srtt))
        maxDataQueued_ = true;
}

void Session::peerStreamEnded()
{
    ++reclaimedPeerStreams_;
    const quint64 target = ep_.config.maxIncomingStreams + reclaimedPeerStreams_;
    // Batch MAX_STREAMS updates (one per eighth of the limit), and send one early only when the
    // peer has used up half of its credit: a serial request/response client then gets one
    // update per limit/8 transactions instead of one per transaction.
    const quint64 peerUsed = liveIncoming_ + reclaimedPeerStreams_;
    const quint64 peerLeft = localMaxStreams_ > peerUsed ? localMaxStreams_ - peerUsed : 0;
    if (target > localMaxStreams_
        && (target >= localMaxStreams_ + std::max<quint64>(1, ep_.config.maxIncomingStreams / 8)
            || peerLeft <= ep_.config.maxIncomingStreams / 2)) {
        localMaxStreams_ = target;
        maxStreamsQueued_ = true;
    }
}

bool Session::endUnseenPeerStream(quint64 id, quint64 finalSize)
{
    // The peer reset a stream whose open never reached us (lost, still in flight, or never sent).
    // As in QUIC, the RESET opens and ends it: its id counts as used (a late open is ignored) and
    // its credit comes back, what the peer says it sent counts against the connection window, and
    // RESET(0) tells the peer it may forget its side (its receive direction would wait forever).
    if (isLocalId(id))
        return true; // one of ours, already gone
    const quint64 seq = id >> 1;
    if (seq >= localMaxStreams_) {
        traceBeyondStreamLimit(ep_.lastNow, FrameType::ResetStream, id);
        return true; // nothing of ours to account
    }
    if (peerSeqsSeen_.contains(seq))
        return true; // ended before
    if (finalSize > 0) {
        connReceived_ += finalSize;
        if (connReceived_ > connWindow_.limit())
            return false;
        consumeConnection(ep_.lastNow, qint64(finalSize));
    }
    peerSeqsSeen_.insert(seq);
    peerStreamEnded();
    queueControl(SentFrame::EndUnseen, id);
    return true;
}

void Session::traceBeyondStreamLimit(Instant now, FrameType type, quint64 id)
{
    if (ep_.tracing)
        ep_.trace(now, "transport:beyond_stream_limit",
                  QStringLiteral("frame=0x%1 id=%2 limit=%3")
                      .arg(quint64(type), 2, 16, QLatin1Char('0'))
                      .arg(id)
                      .arg(localMaxStreams_));
}

void Session::discardInput(StreamState &s, quint64 upTo)
{
    if (upTo > s.creditedReceive) {
        connReceived_ += upTo - s.creditedReceive;
        s.creditedReceive = upTo;
    }
    if (s.creditedReceive > s.creditedConsumed) {
        consumeConnection(ep_.lastNow, qint64(s.creditedReceive - s.creditedConsumed));
        s.creditedConsumed = s.creditedReceive;
    }
}

void Session::afterRead(Instant now, StreamState &s)
{
    // Once the FIN is in, nothing more comes: there is no window to extend (a request or an
    // answer arrives whole with its FIN, and is read once).
    if (!s.recv.finReceived()) {
        const Duration srtt = channel_ ? channel_->smoothedRtt() : 100ms;
        s.window.onConsumed(s.recv.readOffset(), now, srtt);
        if (s.window.pollUpdate(now, srtt) && !s.maxStreamDataQueued) {
            s.maxStreamDataQueued = true;
            queueControl(SentFrame::MaxStreamData, s.wireId);
        }
    }
    maybeReclaim(s);
}

qint64 Session::read(Instant now, StreamState &s, char *data, qint64 maxSize)
{
    // Straight from the received segments into the caller's buffer (a read spanning several
    // segments used to be gathered into a temporary first: two copies).
    const qint64 n = s.recv.read(data, maxSize);
    afterConsume(now, s, n);
    return n;
}

QByteArray Session::read(Instant now, StreamState &s, qint64 maxSize)
{
    const QByteArray b = s.recv.read(maxSize); // a slice of the received packet when it can be
    afterConsume(now, s, b.size());
    return b;
}

QByteArray Session::readMessage(Instant now, StreamState &s)
{
    const QByteArray m = s.recv.readMessage();
    afterConsume(now, s, m.size());
    return m;
}

// The application took n bytes: their flow-control credit, and a Readable event for what comes next.
void Session::afterConsume(Instant now, StreamState &s, qint64 n)
{
    if (n > 0) {
        consumeConnection(now, n);
        s.creditedConsumed += quint64(n);
    }
    s.readableEventQueued = false;
    afterRead(now, s);
}

bool Session::writeDatagram(Instant now, StreamState &s, const QByteArray &data, const DatagramOptions &o)
{
    if (s.sendShut || s.resetQueued || s.error != StreamError::NoError || data.isEmpty())
        return false;
    if (o.expiry <= now)
        return true; // already stale: dropped, as promised
    if (o.reliable || data.size() > ep_.config.unreliableDatagramLimit) {
        // Large or reliable: an ephemeral substream carrying the datagram, delivered whole or not at all.
        const StreamHandle h = openSubstream(now, s, StreamKind::Datagram);
        StreamState &c = *ep_.handles.find(h)->stream;
        c.expiry = o.expiry;
        if (c.expiry != kNever)
            expiring_.emplace(c.expiry, c.wireId);
        c.released = true;
        c.send.append(data, true);
        c.send.finish();
        c.sendShut = true;
        c.discarding = true;
        activate(c);
        return true;
    }
    OutDatagram d {data, nextDatagramId_++, 0, o.expiry};
    s.outDatagrams.push_back(std::move(d));
    s.outDatagramBytes += data.size();
    // Bounded queue: the freshest datagrams matter most, drop the oldest unsent ones.
    while (s.outDatagramBytes > ep_.config.maxDatagramQueuePerStream && s.outDatagrams.size() > 1
           && s.outDatagrams.front().sent == 0) {
        s.outDatagramBytes -= s.outDatagrams.front().data.size();
        s.outDatagrams.pop_front();
    }
    activate(s);
    return true;
}

void Session::setPriority(StreamState &s, int priority)
{
    s.priority = priority;
    s.priorityVersion = ((++priorityClock_) << 1) | localSide();
    if (PriorityScheduler::isActive(s.sched))
        scheduler_.setActive(s.sched, priority);
    if (!s.priorityQueued) {
        s.priorityQueued = true;
        queueControl(SentFrame::Priority, s.wireId);
    }
}

void Session::shutdownWrite(StreamState &s)
{
    if (s.sendShut)
        return;
    s.sendShut = true;
    if (!s.resetQueued) {
        s.send.finish();
        activate(s);
    }
}

void Session::shutdownRead(StreamState &s)
{
    if (s.discarding || s.recvDone())
        return;
    s.discarding = true;
    s.recv.clear();
    discardInput(s, s.creditedReceive);
    s.stopCode = quint64(StreamError::Cancelled);
    queueControl(SentFrame::StopSending, s.wireId);
    maybeReclaim(s);
}

void Session::reset(StreamState &s, StreamError code, bool notifyApp)
{
    if (!s.resetQueued && !s.sendDone()) {
        s.resetQueued = true;
        s.resetCode = quint64(code);
        s.send.clear();
        scheduler_.remove(s.sched);
        s.outDatagrams.clear();
        s.outDatagramBytes = 0;
        queueControl(SentFrame::ResetStream, s.wireId);
    } else if (!s.resetQueued && s.sendDone()) {
        s.resetAcked = true; // nothing left to reset on our side
    }
    s.sendShut = true;
    if (!s.recvDone()) {
        s.stopCode = quint64(code); // (a STOP_SENDING not sent yet carries the latest code)
        if (!s.discarding) { // once: shutdownRead() or an earlier reset() may have asked already
            s.discarding = true;
            s.recv.clear();
            discardInput(s, s.creditedReceive);
            queueControl(SentFrame::StopSending, s.wireId);
        }
    }
    if (notifyApp && s.error == StreamError::NoError)
        s.error = code;
    maybeReclaim(s);
}

void Session::release(StreamState &s)
{
    s.released = true;
    // Unaccepted children die with the parent's handle. (Iterated const: begin()/end() on a
    // non-const empty QList detach, allocating an array for nothing, twice per release.)
    const QList<StreamHandle> children = std::exchange(s.pendingChildren, {});
    for (StreamHandle h : children) {
        if (HandleRef *r = ep_.handles.find(h)) {
            StreamState &c = *r->stream;
            reset(c, StreamError::SubstreamRefused, false);
            c.released = true;
        }
    }
    if (s.error != StreamError::NoError || s.resetQueued) {
        reset(s, StreamError::Cancelled, false);
    } else {
        shutdownWrite(s);
        if (!s.recvDone()) {
            shutdownRead(s);
            s.stopCode = 0; // graceful: the peer ends its direction quietly
        }
    }
    maybeReclaim(s);
}

void Session::failAll(StreamError code, const QString &message)
{
    std::vector<StreamState *> all;
    all.reserve(streams_.size());
    streams_.forEach([&](quint64, std::unique_ptr<StreamState> &s) { all.push_back(s.get()); });
    for (StreamState *s : all) {
        if (s->error == StreamError::NoError && !s->released && s->kind == StreamKind::Stream) {
            s->error = code;
            emitStreamEvent(Event::Type::Error, *s, code, message);
        }
    }
    for (StreamState *s : all) {
        if (!s->released && s->kind == StreamKind::Stream) {
            Event e {Event::Type::Closed};
            e.stream = s->handle;
            ep_.events.push_back(e);
        }
        ep_.dropHandle(s->handle);
    }
    scheduler_.clear(); // (first: its nodes are part of the streams)
    streams_.clear();
    lastStreamId_ = 0;
    control_.clear();
    heldControl_.clear();
    blockedOpens_.clear();
    expiring_.clear();
    orphans_.clear();
    // The session starts over (the peer lost it) or is going away: stream ids, stream limits and
    // connection-level flow control restart from the handshake's values.
    nextLocalSeq_ = 1;
    peerSeqsSeen_.clear();
    liveIncoming_ = 0;
    reclaimedPeerStreams_ = 0;
    localMaxStreams_ = ep_.config.maxIncomingStreams;
    maxStreamsQueued_ = false;
    peerMaxStreams_ = 0;
    peer_ = TransportParams();
    connCredit_ = SendCredit(0);
    connSent_ = 0;
    connWindow_ = ReceiveWindow(ep_.config.initialConnectionWindow, ep_.config.maxConnectionWindow);
    connReceived_ = 0;
    connConsumed_ = 0;
    maxDataQueued_ = false;
}

void Session::handleTimeout(Instant now)
{
    reassembler_.expire(now);
    // Ephemeral datagram carriers that missed their deadline are reset (the receiver discards them).
    while (!expiring_.empty() && expiring_.begin()->first <= now) {
        const quint64 id = expiring_.begin()->second;
        expiring_.erase(expiring_.begin());
        if (StreamState *s = stream(id); s && !s->resetQueued && !s->sendDone())
            reset(*s, StreamError::Cancelled, false);
    }
}

Instant Session::nextTimeout() const
{
    Instant t = kNever;
    if (auto e = reassembler_.nextExpiry())
        t = std::min(t, *e);
    if (!expiring_.empty())
        t = std::min(t, expiring_.begin()->first);
    return t;
}

void Session::noteReadable(StreamState &s)
{
    if (s.readableEventQueued || s.released || s.kind != StreamKind::Stream)
        return;
    s.readableEventQueued = true;
    queueStreamEvent(Event::Type::Readable, s);
}

void Session::flushAckedRuns()
{
    if (ackedRun_.stream) {
        const AckedRun run = std::exchange(ackedRun_, AckedRun {});
        if (StreamState *s = stream(run.stream))
            applyStreamAck(*s, run.start, run.end - run.start, false);
    }
    // (Applying can reclaim a stream, never add a run: the loop sees a stable vector.)
    for (const AckedRun &run : otherRuns_)
        if (StreamState *s = stream(run.stream))
            applyStreamAck(*s, run.start, run.end - run.start, false);
    otherRuns_.clear();
}

void Session::applyStreamAck(StreamState &s, quint64 offset, quint64 length, bool fin)
{
    if (!s.resetQueued) {
        s.send.onAcked(offset, length, fin);
        // One BytesAcked per stream and ACK frame (onAckDone), not one per packet acked.
        if (bytesAckedPending_ != s.wireId) {
            flushBytesAcked();
            bytesAckedPending_ = s.wireId;
        }
    }
    if (s.sendDone())
        flushBytesAcked(); // before a reclaim can report Closed
    maybeReclaim(s);
}

void Session::flushBytesAcked()
{
    if (!bytesAckedPending_)
        return;
    if (StreamState *s = stream(bytesAckedPending_))
        noteBytesAcked(*s);
    bytesAckedPending_ = 0;
}

void Session::noteBytesAcked(StreamState &s)
{
    const quint64 acked = s.send.ackedPrefix();
    if (acked <= s.ackedTotal)
        return;
    const qint64 delta = qint64(acked - s.ackedTotal);
    s.ackedTotal = acked;
    if (s.released || s.kind != StreamKind::Stream)
        return;
    Event e {Event::Type::BytesAcked};
    e.stream = s.handle;
    e.count = delta;
    ep_.events.push_back(std::move(e));
}

// (Out of line: inlined into queueStreamEvent, it would make the fold check save and restore six
// registers around a few instructions.)
Q_NEVER_INLINE void Session::emitStreamEvent(Event::Type t, StreamState &s, StreamError err,
                                             const QString &msg)
{
    Event &e = ep_.events.emplace(t);
    e.stream = s.handle;
    e.parent = s.parent;
    e.error = err;
    if (!msg.isNull())
        setMessage(e, msg);
}

void Session::maybeReclaim(StreamState &s)
{
    if (!s.sendDone() || !s.recvDone())
        return;
    if (!s.released
        && (!s.inDatagrams.isEmpty() || !s.pendingChildren.isEmpty() || s.recv.bytesAvailable() > 0))
        return;
    if (!s.outDatagrams.empty())
        return;
    // The peer must have seen our open before the state can go (a late open would recreate it).
    if (s.local && !s.openAcked && !s.resetAcked)
        return;
    if (s.reclaimQueued)
        return;
    s.reclaimQueued = true;
    if (reclaimQueue_.empty())
        ep_.reclaimPending.push_back(this);
    reclaimQueue_.push_back(s.wireId);
    // Bound what waits: a burst of finished streams is freed at once.
    if (reclaimQueue_.size() >= 256)
        sweepReclaims();
}

void Session::sweepReclaims()
{
    if (reclaimQueue_.empty())
        return;
    std::erase(ep_.reclaimPending, this);
    std::vector<quint64> ids;
    ids.swap(reclaimQueue_);
    // A queued stream only ever stays done; it may have gone meanwhile (session reset, close).
    for (const quint64 id : ids)
        if (StreamState *st = stream(id))
            reclaim(*st);
    if (reclaimQueue_.empty()) { // keep the capacity for the next ones
        ids.clear();
        reclaimQueue_.swap(ids);
    }
}

void Session::reclaim(StreamState &s)
{
    const quint64 id = s.wireId;
    if (!s.released && s.kind == StreamKind::Stream) {
        Event &e = ep_.events.emplace(Event::Type::Closed);
        e.stream = s.handle;
    }
    if (StreamState *p = s.parentWireId ? stream(s.parentWireId) : nullptr)
        --p->childCount;
    if (!isLocalId(id)) {
        --liveIncoming_;
        peerStreamEnded();
    }
    scheduler_.remove(s.sched);
    if (s.expiry != kNever)
        expiring_.erase({s.expiry, id});
    ep_.dropHandle(s.handle);
    if (lastStreamId_ == id)
        lastStreamId_ = 0;
    // Keep the StreamState for the next stream: a request/response stream would otherwise cost an
    // allocation to create and a free to retire.
    if (!spareStream_) {
        spareStream_ = std::move(*streams_.find(id));
        spareStream_->recycle();
    }
    streams_.remove(id);
}

} // namespace sss::core
