#include "frames.h"

#include <algorithm>
#include <climits>

namespace sss::core::wire {

namespace {
constexpr quint64 kMaxStringBytes = 1024;

void writeString(Writer &w, const QString &s)
{
    const QByteArray u = s.toUtf8();
    w.varint(quint64(u.size()));
    w.bytes(u);
}

bool readString(Reader &r, QString &out)
{
    const quint64 n = r.varint();
    if (!r.ok() || n > kMaxStringBytes)
        return false;
    const char *p = r.bytes(qsizetype(n));
    if (!p)
        return false;
    out = QString::fromUtf8(p, qsizetype(n));
    return true;
}

qsizetype stringSize(const QString &s)
{
    const qsizetype n = s.toUtf8().size();
    return varintSize(quint64(n)) + n;
}
} // namespace

quint64 zigzag(qint64 v)
{
    return (quint64(v) << 1) ^ quint64(v >> 63);
}
qint64 unzigzag(quint64 v)
{
    return qint64(v >> 1) ^ -qint64(v & 1);
}

bool AckRanges::contains(quint64 v) const
{
    // Highest first: the first range starting at or below v is the only one that can hold it.
    const auto it = std::partition_point(r_.cbegin(), r_.cend(), [v](const Range &r) { return r.first > v; });
    return it != r_.cend() && v < it->second;
}

RangeSet AckRanges::toRangeSet() const
{
    RangeSet s;
    for (const auto &[first, end] : *this)
        s.insert(first, end);
    return s;
}

quint64 writeAck(Writer &w, const RangeSet &ranges, quint64 ackDelayMicros, int maxRanges)
{
    Q_ASSERT(!ranges.isEmpty());
    const int count = std::min(ranges.rangeCount(), maxRanges);
    const auto *top = ranges.highest(); // (the usual single range needs no map iterator)
    // Forward iterators stepped down: a reverse iterator steps its base on every dereference.
    const auto topIt = count > 1 ? std::prev(ranges.end()) : ranges.end();
    const quint64 largest = top->second - 1;
    const quint64 delay = std::min<quint64>(ackDelayMicros, kVarintMax);
    // Sized first, then written with one grow: every packet carries an ACK.
    auto forEachField = [&](auto &&put) {
        put(quint64(FrameType::Ack));
        put(largest);
        put(delay);
        put(quint64(count - 1));
        put(largest - top->first); // first range length - 1
        auto it = topIt;
        quint64 smallest = top->first;
        for (int i = 1; i < count; ++i) {
            --it;
            // gap: number of unacknowledged packets below `smallest` before this range, minus one
            put(smallest - it->second - 1);
            put(it->second - 1 - it->first);
            smallest = it->first;
        }
    };
    qsizetype size = 0;
    forEachField([&](quint64 v) { size += varintSize(v); });
    char *p = w.grow(size);
    forEachField([&](quint64 v) { putVarint(p, v); });
    return largest;
}

qsizetype openInfoSize(const OpenInfo &open)
{
    qsizetype n = varintSize(open.parent) + varintSize(zigzag(open.priority)) + 1;
    if (open.parent == 0)
        n += stringSize(open.service) + stringSize(open.protocol);
    return n;
}

namespace {
// A STREAM frame's type byte, id, offset and length in one grow of `extra` more bytes; returns
// where the rest (open info or data) goes. This runs for every packet of a bulk transfer.
char *putStreamFixed(Writer &w, quint64 id, quint64 offset, qsizetype length, bool fin, bool msgEnd,
                     bool open, qsizetype extra)
{
    quint8 t = quint8(FrameType::Stream);
    if (fin)
        t |= kStreamFin;
    if (msgEnd)
        t |= kStreamMsgEnd;
    if (open)
        t |= kStreamOpen;
    char *p = w.grow(1 + varintSize(id) + varintSize(offset) + varintSize(quint64(length)) + extra);
    *p++ = char(t);
    putVarint(p, id);
    putVarint(p, offset);
    putVarint(p, quint64(length));
    return p;
}

// The open information's fixed part (parent, priority, kind): its size, and writing it at p.
qsizetype openFixedSize(const OpenInfo &open)
{
    return varintSize(open.parent) + varintSize(zigzag(open.priority)) + 1;
}

char *putOpenFixed(char *p, const OpenInfo &open)
{
    putVarint(p, open.parent);
    putVarint(p, zigzag(open.priority));
    *p++ = char(quint8(open.kind));
    return p;
}
} // namespace

namespace {
// writeStreamFrame() for a frame that opens its stream (out of line: the per-packet case is lean).
[[gnu::noinline]] char *writeOpeningStreamFrame(Writer &w, quint64 id, quint64 offset, qsizetype length,
                                                bool fin, bool msgEnd, const OpenInfo &open)
{
    if (open.parent == 0) { // a top-level open (service, protocol)
        writeStreamHeader(w, id, offset, length, fin, msgEnd, &open);
        return w.grow(length);
    }
    // A substream's: header, open information and data room in one grow.
    char *p = putStreamFixed(w, id, offset, length, fin, msgEnd, true, openFixedSize(open) + length);
    return putOpenFixed(p, open);
}
} // namespace

char *writeStreamFrame(Writer &w, quint64 id, quint64 offset, qsizetype length, bool fin, bool msgEnd,
                       const OpenInfo *open)
{
    if (Q_UNLIKELY(open))
        return writeOpeningStreamFrame(w, id, offset, length, fin, msgEnd, *open);
    return putStreamFixed(w, id, offset, length, fin, msgEnd, false, length); // header + data room
}

void writeStreamHeader(Writer &w, quint64 id, quint64 offset, qsizetype length, bool fin, bool msgEnd,
                       const OpenInfo *open)
{
    char *p = putStreamFixed(w, id, offset, length, fin, msgEnd, open != nullptr,
                             open ? openFixedSize(*open) : 0);
    if (open) {
        putOpenFixed(p, *open);
        if (open->parent == 0) {
            writeString(w, open->service);
            writeString(w, open->protocol);
        }
    }
}

qsizetype datagramHeaderSize(quint64 stream, quint64 id, quint64 total, quint64 offset, qsizetype len)
{
    return 1 + varintSize(stream) + varintSize(id) + varintSize(total) + varintSize(offset)
        + varintSize(quint64(len));
}

void writeDatagramHeader(Writer &w, quint64 stream, quint64 id, quint64 total, quint64 offset, qsizetype len)
{
    w.varint(quint64(FrameType::Datagram));
    w.varint(stream);
    w.varint(id);
    w.varint(total);
    w.varint(offset);
    w.varint(quint64(len));
}

void writeClose(Writer &w, quint64 code, const QString &reason)
{
    w.varint(quint64(FrameType::Close));
    w.varint(code);
    writeString(w, reason.left(200));
}

void writeSimple(Writer &w, FrameType t, quint64 a)
{
    w.varint(quint64(t));
    w.varint(a);
}

void writeSimple2(Writer &w, FrameType t, quint64 a, quint64 b)
{
    w.varint(quint64(t));
    w.varint(a);
    w.varint(b);
}

void writeReset(Writer &w, quint64 id, quint64 code, quint64 finalSize)
{
    w.varint(quint64(FrameType::ResetStream));
    w.varint(id);
    w.varint(code);
    w.varint(finalSize);
}

void writePriority(Writer &w, quint64 id, qint64 priority, quint64 version)
{
    w.varint(quint64(FrameType::Priority));
    w.varint(id);
    w.varint(zigzag(priority));
    w.varint(version);
}

void writePath(Writer &w, FrameType t, quint64 token)
{
    w.varint(quint64(t));
    w.u64(token);
}

int parseFrames(const char *payload, qsizetype size, Frame *kept, int keptCount, Frame &scratch)
{
    Reader r(payload, size);
    int n = 0;
    while (!r.atEnd()) {
        if (!parseFrame(r, n < keptCount ? kept[n] : scratch))
            return -1;
        ++n;
    }
    return n;
}

bool parseFrame(Reader &r, Frame &f)
{
    const quint64 type = r.varint();
    if (!r.ok())
        return false;
    if (type >= 0x10 && type <= 0x17) {
        f.type = FrameType::Stream;
        StreamFrame &s = f.stream;
        s.fin = type & kStreamFin;
        s.messageEnd = type & kStreamMsgEnd;
        s.id = r.varint();
        s.offset = r.varint();
        const quint64 len = r.varint();
        if (type & kStreamOpen) {
            // Filled in place: every request opens a substream, and `f` is reused between packets.
            OpenInfo &o = s.open ? *s.open : s.open.emplace();
            o.parent = r.varint();
            o.priority = unzigzag(r.varint());
            const quint8 kind = r.u8();
            if (!r.ok() || kind > quint8(StreamKind::Datagram))
                return false;
            o.kind = StreamKind(kind);
            if (o.parent == 0) {
                if (!readString(r, o.service) || !readString(r, o.protocol))
                    return false;
            } else if (!o.service.isNull() || !o.protocol.isNull()) {
                o.service = QString();
                o.protocol = QString();
            }
        } else {
            s.open.reset();
        }
        if (!r.ok() || s.id == 0 || len > quint64(r.remaining()) || s.offset + len > kVarintMax)
            return false;
        s.length = qsizetype(len);
        s.data = r.bytes(s.length);
        return r.ok();
    }
    if (type > quint64(FrameType::PathResponse))
        return false; // unknown frame types are a protocol error: the packet is dropped
    f.type = FrameType(type);
    switch (f.type) {
    case FrameType::Padding: {
        // A run of padding bytes (a path MTU probe is ~1,400 of them) is one frame: counted and
        // walked once, not once per byte.
        const char *p = r.current();
        const qsizetype n = r.remaining();
        qsizetype i = 0;
        while (i < n && p[i] == 0)
            ++i;
        r.skip(i);
        return true;
    }
    case FrameType::Ping:
        return true;
    case FrameType::Ack: {
        const quint64 largest = r.varint();
        f.ack.ackDelayMicros = r.varint();
        const quint64 count = r.varint() + 1;
        quint64 first = r.varint();
        if (!r.ok() || first > largest || count > 256)
            return false;
        f.ack.ranges.clear();
        quint64 hi = largest; // inclusive
        quint64 lo = largest - first;
        f.ack.ranges.appendLower(lo, hi + 1);
        for (quint64 i = 1; i < count; ++i) {
            const quint64 gap = r.varint();
            const quint64 len = r.varint();
            if (!r.ok() || lo < gap + 2)
                return false;
            hi = lo - gap - 2;
            if (len > hi)
                return false;
            lo = hi - len;
            f.ack.ranges.appendLower(lo, hi + 1); // gap >= 0 keeps ranges apart: none touch
        }
        return r.ok();
    }
    case FrameType::Close:
        f.close.code = r.varint();
        return r.ok() && readString(r, f.close.reason);
    case FrameType::MaxData:
    case FrameType::MaxStreams:
    case FrameType::Accept:
        f.a = r.varint();
        return r.ok();
    case FrameType::StopSending:
    case FrameType::MaxStreamData:
        f.a = r.varint();
        f.b = r.varint();
        return r.ok() && f.a != 0;
    case FrameType::ResetStream:
        f.a = r.varint();
        f.b = r.varint();
        f.c = r.varint();
        return r.ok() && f.a != 0;
    case FrameType::Priority:
        f.a = r.varint();
        f.priority = unzigzag(r.varint());
        f.b = r.varint();
        return r.ok() && f.a != 0 && f.priority >= INT_MIN && f.priority <= INT_MAX;
    case FrameType::Datagram: {
        DatagramFrame &d = f.datagram;
        d.stream = r.varint();
        d.id = r.varint();
        d.totalSize = r.varint();
        d.offset = r.varint();
        const quint64 len = r.varint();
        if (!r.ok() || len > quint64(r.remaining()) || d.offset + len > d.totalSize || d.totalSize == 0)
            return false;
        d.length = qsizetype(len);
        d.data = r.bytes(d.length);
        return r.ok();
    }
    case FrameType::PathChallenge:
    case FrameType::PathResponse:
        f.a = r.u64();
        return r.ok();
    default:
        return false;
    }
}

} // namespace sss::core::wire
