// Sender-side stream buffer: holds appended bytes until acknowledged, hands out chunks to send
// (retransmissions first), tracks message boundaries, FIN, acks and losses.
#pragma once

#include <QByteArray>
#include <QList>
#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>

namespace sss::core {

// Returns bytes [pos, pos + n) of `source` WITHOUT copying: the result shares source's allocation
// (reference counted like any implicitly shared QByteArray; writing to either detaches as usual).
// Unlike QByteArray::sliced() it is not guaranteed to be '\0'-terminated, like fromRawData().
// Out-of-range arguments are clamped.
// Inline: the receive path takes two slices per packet.
inline QByteArray sharedSlice(const QByteArray &source, qsizetype pos, qsizetype n)
{
    pos = std::clamp<qsizetype>(pos, 0, source.size());
    n = std::clamp<qsizetype>(n, 0, source.size() - pos);
    if (n == 0)
        return QByteArray();
    if (pos == 0 && n == source.size())
        return source;
    // Copying the data pointer takes a reference on the shared header; narrowing ptr/size then
    // yields a view that Qt treats like an array with free space at both ends (it never writes
    // there while the header is shared, and frees the header, not ptr).
    QByteArray::DataPointer dp = const_cast<QByteArray &>(source).data_ptr();
    dp.ptr += pos;
    dp.size = n;
    return QByteArray(std::move(dp));
}

namespace detail {

// Disjoint half-open intervals with a maintained total and overlap enumeration (what the stream
// buffers need beyond common/RangeSet: removal counts and "gaps of this set inside [s, e)").
class Intervals
{
public:
    // Both return how many values changed membership.
    uint64_t add(uint64_t start, uint64_t end);
    uint64_t subtract(uint64_t start, uint64_t end);
    // Calls fn(s, e) for every maximal sub-interval of [start, end) NOT in the set, in order.
    template<typename F> void forEachGap(uint64_t start, uint64_t end, F &&fn) const;
    bool contains(uint64_t v) const;
    // End of the run containing `from`, or `from` itself if it is not contained.
    uint64_t runEnd(uint64_t from) const;
    std::optional<std::pair<uint64_t, uint64_t>> first() const // inline: checked per packet acked
    {
        if (map_.empty())
            return std::nullopt;
        return *map_.begin();
    }
    uint64_t total() const { return total_; }
    bool isEmpty() const { return map_.empty(); }
    int rangeCount() const { return int(map_.size()); }
    void clear()
    {
        map_.clear();
        total_ = 0;
    }

private:
    std::map<uint64_t, uint64_t> map_; // start -> end
    uint64_t total_ = 0;
};

template<typename F> void Intervals::forEachGap(uint64_t start, uint64_t end, F &&fn) const
{
    uint64_t pos = start;
    auto it = map_.upper_bound(pos);
    if (it != map_.begin()) {
        auto prev = std::prev(it);
        if (prev->second > pos)
            pos = prev->second;
    }
    while (pos < end) {
        const uint64_t gapEnd = (it == map_.end() || it->first > end) ? end : it->first;
        if (gapEnd > pos)
            fn(pos, gapEnd);
        if (it == map_.end())
            break;
        pos = it->second;
        ++it;
    }
}

} // namespace detail

class SendBuffer
{
public:
    struct Chunk {
        uint64_t offset = 0;
        uint64_t length = 0; // data.size() when the chunk carries its bytes
        QByteArray data;
        bool messageEnd = false;
        bool fin = false;
        bool retransmission = false;
    };

    // Appends bytes (shared, not copied, unless small appends are coalesced). endOfMessage puts a
    // message boundary after them; with empty data it ends the message at the current offset.
    // Boundaries are offsets, so zero-length messages do not exist: a boundary at an offset that
    // already has one, or at offset 0, is ignored. Ignored after finish() or clear().
    void append(const QByteArray &data, bool endOfMessage = false);
    void finish(); // FIN after everything appended so far
    bool isFinished() const { return finished_; }

    // Next chunk to send: lost ranges first (lowest offset first), then pending message-end
    // markers, then new data. At most maxBytes, never crossing a message boundary (a chunk ending
    // exactly at one has messageEnd), new data never beyond `flowLimit`. A chunk with empty data
    // carries a FIN and/or a message end. Returns nullopt if nothing is sendable.
    std::optional<Chunk> nextChunk(qsizetype maxBytes, uint64_t flowLimit);
    // The same chunk without its bytes (Chunk::data stays empty): the sender copies them straight
    // into the packet with copyOut(), with no shared slice to take and release per packet.
    std::optional<Chunk> nextRange(qsizetype maxBytes, uint64_t flowLimit);
    // Copies bytes [offset, offset + n) of a range nextRange() returned (still held) to dst.
    void copyOut(uint64_t offset, qsizetype n, char *dst) const;
    bool hasSendable(uint64_t flowLimit) const;

    // Report the fate of a chunk exactly as it was sent (offset, data size, fin). Zero-length
    // chunks must be reported too (they may carry a message end). Parts outside what was sent,
    // and losses of already-acked bytes, are ignored.
    void onAcked(uint64_t offset, uint64_t length, bool fin);
    void onLost(uint64_t offset, uint64_t length, bool fin);

    uint64_t writtenBytes() const { return written_; } // total appended (= stream length)
    uint64_t sentOffset() const { return sentEnd_; } // highest offset ever sent
    qint64 unackedBytes() const; // appended but not yet acked
    qint64 queuedBytes() const; // never sent + lost awaiting retransmission
    qint64 inFlightBytes() const; // sent, not acked, not lost
    uint64_t ackedPrefix() const { return ackedPrefix_; } // every byte below is acked
    qint64 heldBytes() const { return held_; } // payload memory referenced by the buffer
    bool finSent() const { return finSent_; }
    bool allAcked() const; // everything incl. FIN (if finished) and message-end markers acked

    // On reset: drops all data and pending work. writtenBytes()/sentOffset() keep their values
    // (the final size of a reset stream); afterwards nothing is sendable and appends are ignored.
    void clear();
    bool isCleared() const { return cleared_; }
    // Back to a fresh buffer, keeping the segment list's storage (stream state is recycled: one
    // allocation less per request/response stream).
    void recycle()
    {
        QList<Segment> keep = std::move(segments_);
        keep.clear(); // keeps the capacity: nobody else shares it
        *this = SendBuffer();
        segments_ = std::move(keep);
    }

private:
    struct Segment {
        uint64_t offset;
        QByteArray data;
        uint64_t end() const { return offset + uint64_t(data.size()); }
    };

    QByteArray bytesAt(uint64_t offset, qsizetype n) const;
    qsizetype segmentIndex(uint64_t offset) const; // the segment holding offset (must be held)
    std::optional<Chunk> next(qsizetype maxBytes, uint64_t flowLimit, bool withData); // nextChunk/nextRange
    uint64_t nextBoundaryAfter(uint64_t offset) const; // first boundary > offset, or UINT64_MAX
    bool isBoundary(uint64_t offset) const;
    Chunk makeChunk(uint64_t offset, uint64_t end, bool retransmission, bool withData);
    void advanceAckedPrefix();

    QList<Segment> segments_; // contiguous, covering [front.offset, written_)
    mutable qsizetype hintIndex_ = 0; // segmentIndex()'s last answer (kept valid across pops)
    QList<uint64_t> boundaries_; // strictly increasing message end offsets > ackedPrefix_
    detail::Intervals acked_; // acked bytes (within [0, sentEnd_))
    detail::Intervals lost_; // lost, not acked, awaiting retransmission (subset of un-acked)
    std::set<uint64_t> markersPending_; // message ends to send as empty chunks
    std::set<uint64_t> markersInFlight_;
    uint64_t written_ = 0;
    uint64_t sentEnd_ = 0;
    uint64_t ackedPrefix_ = 0;
    qint64 held_ = 0;
    bool finished_ = false;
    bool finSent_ = false;
    bool finLost_ = false;
    bool finAcked_ = false;
    bool cleared_ = false;
};

} // namespace sss::core
