// The one table of SSS frame types and their encoding. A protected packet's plaintext is a sequence of
// frames; every frame starts with its type as a varint. Layouts are documented in docs/protocol.md.
#pragma once

#include "common/buffer.h"
#include "common/rangeset.h"
#include "common/types.h"

#include <QString>
#include <QVarLengthArray>
#include <optional>
#include <utility>

namespace sss::core::wire {

enum class FrameType : quint8 {
    Padding = 0x00, // single zero bytes, ignored
    Ping = 0x01, // ack-eliciting, no content
    Ack = 0x02, // largest, ack delay (us), range count, first range, (gap, range)*
    Close = 0x03, // error code, reason
    MaxData = 0x04, // connection-level flow-control limit
    MaxStreams = 0x05, // how many stream sequence numbers the peer may open (cumulative)
    ResetStream = 0x06, // stream id, error code, final size
    StopSending = 0x07, // stream id, error code
    MaxStreamData = 0x08, // stream id, limit
    Priority = 0x09, // stream id, priority (zigzag), version
    Accept = 0x0a, // stream id: a top-level stream was accepted by a listening service
    Datagram = 0x0b, // stream id, datagram id, total size, offset, length, data
    PathChallenge = 0x0c, // 8 bytes
    PathResponse = 0x0d, // 8 bytes
    // 0x10..0x17: STREAM with flag bits in the low 3 bits of the type.
    Stream = 0x10,
};

constexpr quint8 kStreamFin = 0x01; // data ends the stream
constexpr quint8 kStreamMsgEnd = 0x02; // data ends a message (record boundary)
constexpr quint8 kStreamOpen = 0x04; // open information follows (parent, priority, kind, service)

enum class StreamKind : quint8 { Stream = 0, Datagram = 1 /* ephemeral reliable datagram carrier */ };

struct OpenInfo {
    quint64 parent = 0; // 0 = top level (service/protocol present)
    qint64 priority = 0;
    StreamKind kind = StreamKind::Stream;
    QString service, protocol;
};

struct StreamFrame {
    quint64 id = 0;
    quint64 offset = 0;
    bool fin = false;
    bool messageEnd = false;
    std::optional<OpenInfo> open;
    const char *data = nullptr; // points into the decoded packet (valid while it lives)
    qsizetype length = 0;
};

// The ranges of one ACK frame: disjoint [first, end) intervals, stored highest first as encoded
// (parseFrame checks that they descend and do not touch) and iterated in ascending order. Flat
// rather than a RangeSet: every packet of a request/response exchange carries an ACK, and a tree
// node per frame cost an allocation or a relink and a rebalance on the receive path.
class AckRanges
{
public:
    using Range = std::pair<quint64, quint64>;

    bool isEmpty() const { return r_.isEmpty(); }
    int rangeCount() const { return int(r_.size()); }
    std::optional<quint64> min() const
    {
        return r_.isEmpty() ? std::nullopt : std::optional(r_.back().first);
    }
    std::optional<quint64> max() const
    {
        return r_.isEmpty() ? std::nullopt : std::optional(r_.front().second - 1);
    }
    bool contains(quint64 v) const;
    auto begin() const { return r_.crbegin(); } // ascending
    auto end() const { return r_.crend(); }
    RangeSet toRangeSet() const;

    void clear() { r_.clear(); }
    // Appends a range below all present ones (the decoder's order).
    void appendLower(quint64 first, quint64 end) { r_.append({first, end}); }

    friend bool operator==(const AckRanges &a, const AckRanges &b) { return a.r_ == b.r_; }

private:
    QVarLengthArray<Range, 4> r_;
};

struct AckFrame {
    quint64 ackDelayMicros = 0;
    AckRanges ranges; // acknowledged packet numbers
};

struct DatagramFrame {
    quint64 stream = 0, id = 0, totalSize = 0, offset = 0;
    const char *data = nullptr;
    qsizetype length = 0;
};

struct CloseFrame {
    quint64 code = 0;
    QString reason;
};

// ---- encoding (append to a Writer). Sizes are exact so the packet builder can plan space.
// Returns the largest packet number it acknowledges.
quint64 writeAck(Writer &w, const RangeSet &ranges, quint64 ackDelayMicros, int maxRanges = 32);
void writeStreamHeader(Writer &w, quint64 id, quint64 offset, qsizetype length, bool fin, bool msgEnd,
                       const OpenInfo *open);
// The header plus room for `length` data bytes, which the caller writes at the returned pointer
// (one grow of the packet for the whole frame when there is no open info).
char *writeStreamFrame(Writer &w, quint64 id, quint64 offset, qsizetype length, bool fin, bool msgEnd,
                       const OpenInfo *open);
qsizetype openInfoSize(const OpenInfo &open);
// (Inline: sized for every packet of stream data.)
inline qsizetype streamHeaderSize(quint64 id, quint64 offset, qsizetype length, const OpenInfo *open)
{
    const qsizetype n = 1 + varintSize(id) + varintSize(offset) + varintSize(quint64(length));
    return open ? n + openInfoSize(*open) : n;
}
void writeDatagramHeader(Writer &w, quint64 stream, quint64 id, quint64 total, quint64 offset, qsizetype len);
qsizetype datagramHeaderSize(quint64 stream, quint64 id, quint64 total, quint64 offset, qsizetype len);
void writeClose(Writer &w, quint64 code, const QString &reason);
void writeSimple(Writer &w, FrameType t, quint64 a); // MaxData, MaxStreams, Accept
void writeSimple2(Writer &w, FrameType t, quint64 a, quint64 b); // StopSending, MaxStreamData
void writeReset(Writer &w, quint64 id, quint64 code, quint64 finalSize);
void writePriority(Writer &w, quint64 id, qint64 priority, quint64 version);
void writePath(Writer &w, FrameType t, quint64 token);

quint64 zigzag(qint64 v);
qint64 unzigzag(quint64 v);

// ---- decoding: a visitor over the frames of one packet. Returns false on any malformed frame; the caller
// must then discard the whole packet (no frame of it is applied: decode first, apply after).
struct Frame {
    FrameType type = FrameType::Padding;
    quint64 a = 0, b = 0, c = 0; // generic fields (see parseFrames)
    qint64 priority = 0;
    StreamFrame stream;
    AckFrame ack;
    DatagramFrame datagram;
    CloseFrame close;
};

// Decodes the next frame from r into f (f is reused between calls). False if malformed.
bool parseFrame(Reader &r, Frame &f);

// Validates every frame of a payload. The first `keptCount` frames are left parsed in kept[0..),
// the rest go through `scratch`. Returns the number of frames (a run of padding bytes is one), or
// -1 if any frame is malformed: a receiver applies nothing of such a packet.
int parseFrames(const char *payload, qsizetype size, Frame *kept, int keptCount, Frame &scratch);

// Calls fn(const Frame &) for every frame of the payload. Returns false as soon as a frame is malformed.
// Receivers parse twice: once to validate (no-op fn), then to apply, so a bad packet changes nothing.
template<class Fn> bool forEachFrame(const char *payload, qsizetype size, Fn &&fn)
{
    Reader r(payload, size);
    Frame f;
    while (!r.atEnd()) {
        if (!parseFrame(r, f))
            return false;
        if (f.type != FrameType::Padding)
            fn(f);
    }
    return true;
}

inline bool isAckEliciting(FrameType t) // (inline: asked for every frame received)
{
    return t != FrameType::Ack && t != FrameType::Padding && t != FrameType::Close;
}

} // namespace sss::core::wire
