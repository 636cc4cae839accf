#include "sendbuffer.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace sss::core {

namespace detail {

uint64_t Intervals::add(uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    const uint64_t before = total_;
    auto it = map_.upper_bound(start);
    auto target = map_.end(); // an existing range to extend in place (the in-order ack case)
    if (it != map_.begin()) {
        auto prev = std::prev(it);
        if (prev->second >= start) {
            if (prev->second >= end)
                return 0;
            target = prev;
        }
    }
    uint64_t newEnd = end;
    while (it != map_.end() && it->first <= end) {
        newEnd = std::max(newEnd, it->second);
        total_ -= it->second - it->first;
        it = map_.erase(it);
    }
    if (target != map_.end()) {
        total_ += newEnd - target->second;
        target->second = newEnd;
    } else {
        map_.emplace_hint(it, start, newEnd);
        total_ += newEnd - start;
    }
    return total_ - before;
}

uint64_t Intervals::subtract(uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    const uint64_t before = total_;
    auto it = map_.upper_bound(start);
    if (it != map_.begin()) {
        auto prev = std::prev(it);
        if (prev->second > start) {
            const uint64_t ps = prev->first, pe = prev->second;
            total_ -= pe - ps;
            it = map_.erase(prev);
            if (ps < start) {
                map_.emplace_hint(it, ps, start);
                total_ += start - ps;
            }
            if (pe > end) {
                it = map_.emplace_hint(it, end, pe);
                total_ += pe - end;
                return before - total_;
            }
        }
    }
    while (it != map_.end() && it->first < end) {
        const uint64_t s = it->first, e = it->second;
        total_ -= e - s;
        it = map_.erase(it);
        if (e > end) {
            map_.emplace_hint(it, end, e);
            total_ += e - end;
            break;
        }
    }
    return before - total_;
}

bool Intervals::contains(uint64_t v) const
{
    auto it = map_.upper_bound(v);
    if (it == map_.begin())
        return false;
    return v < std::prev(it)->second;
}

uint64_t Intervals::runEnd(uint64_t from) const
{
    auto it = map_.upper_bound(from);
    if (it == map_.begin())
        return from;
    --it;
    return from < it->second ? it->second : from;
}

} // namespace detail

namespace {
// Small appends are coalesced into the tail segment (while none of it was sent, so no chunk
// shares it) to keep chunks single-segment, hence zero-copy.
constexpr qsizetype kCoalesceBelow = 2048;
constexpr qsizetype kCoalesceLimit = 16 * 1024;
constexpr uint64_t kNoBoundary = std::numeric_limits<uint64_t>::max();

// Sets *end = offset + length unless that overflows (a malformed report).
bool rangeEnd(uint64_t offset, uint64_t length, uint64_t *end)
{
    if (length > std::numeric_limits<uint64_t>::max() - offset)
        return false;
    *end = offset + length;
    return true;
}
} // namespace

void SendBuffer::append(const QByteArray &data, bool endOfMessage)
{
    if (cleared_ || finished_)
        return;
    if (!data.isEmpty()) {
        if (data.size() < kCoalesceBelow && !segments_.empty() && segments_.back().offset >= sentEnd_
            && segments_.back().data.size() + data.size() <= kCoalesceLimit)
            segments_.back().data.append(data);
        else
            segments_.push_back(Segment {written_, data});
        written_ += uint64_t(data.size());
        held_ += data.size();
    }
    if (endOfMessage && written_ > 0 && (boundaries_.empty() || boundaries_.back() != written_)) {
        boundaries_.push_back(written_);
        // Everything up to here already went out without a message end: send it on its own.
        if (sentEnd_ == written_)
            markersPending_.insert(written_);
    }
}

void SendBuffer::finish()
{
    if (!cleared_)
        finished_ = true;
}

uint64_t SendBuffer::nextBoundaryAfter(uint64_t offset) const
{
    auto it = std::upper_bound(boundaries_.begin(), boundaries_.end(), offset);
    return it == boundaries_.end() ? kNoBoundary : *it;
}

bool SendBuffer::isBoundary(uint64_t offset) const
{
    return std::binary_search(boundaries_.begin(), boundaries_.end(), offset);
}

qsizetype SendBuffer::segmentIndex(uint64_t offset) const
{
    // New data is taken in order: usually the offset is in the segment found last time or the next.
    const qsizetype count = segments_.size();
    for (qsizetype i = hintIndex_; i < count && i < hintIndex_ + 2; ++i) {
        const Segment &s = segments_[i];
        if (s.offset > offset)
            break;
        if (offset < s.end()) {
            hintIndex_ = i;
            return i;
        }
    }
    auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                               [](uint64_t v, const Segment &s) { return v < s.offset; });
    Q_ASSERT(it != segments_.begin());
    const qsizetype i = qsizetype(it - segments_.begin()) - 1;
    hintIndex_ = i;
    return i;
}

void SendBuffer::copyOut(uint64_t offset, qsizetype n, char *dst) const
{
    if (n <= 0)
        return;
    qsizetype i = segmentIndex(offset);
    qsizetype from = qsizetype(offset - segments_[i].offset);
    for (qsizetype copied = 0; copied < n; ++i, from = 0) {
        Q_ASSERT(i < segments_.size());
        const QByteArray &d = segments_[i].data;
        const qsizetype take = std::min(n - copied, d.size() - from);
        std::memcpy(dst + copied, d.constData() + from, size_t(take));
        copied += take;
    }
}

QByteArray SendBuffer::bytesAt(uint64_t offset, qsizetype n) const
{
    auto it = segments_.begin() + segmentIndex(offset);
    const qsizetype pos = qsizetype(offset - it->offset);
    if (pos + n <= it->data.size())
        return sharedSlice(it->data, pos, n);
    // Spans segments: one copy.
    QByteArray out(n, Qt::Uninitialized);
    char *dst = out.data();
    qsizetype copied = 0, from = pos;
    for (; copied < n; ++it, from = 0) {
        Q_ASSERT(it != segments_.end());
        const qsizetype take = std::min(n - copied, it->data.size() - from);
        std::memcpy(dst + copied, it->data.constData() + from, size_t(take));
        copied += take;
    }
    return out;
}

SendBuffer::Chunk SendBuffer::makeChunk(uint64_t offset, uint64_t end, bool retransmission, bool withData)
{
    Chunk c;
    c.offset = offset;
    c.length = end - offset;
    if (withData)
        c.data = bytesAt(offset, qsizetype(end - offset));
    c.messageEnd = isBoundary(end);
    c.fin = finished_ && end == written_ && (!finSent_ || finLost_);
    c.retransmission = retransmission;
    if (c.fin) {
        finSent_ = true;
        finLost_ = false;
    }
    return c;
}

std::optional<SendBuffer::Chunk> SendBuffer::nextChunk(qsizetype maxBytes, uint64_t flowLimit)
{
    return next(maxBytes, flowLimit, true);
}

std::optional<SendBuffer::Chunk> SendBuffer::nextRange(qsizetype maxBytes, uint64_t flowLimit)
{
    return next(maxBytes, flowLimit, false);
}

std::optional<SendBuffer::Chunk> SendBuffer::next(qsizetype maxBytes, uint64_t flowLimit, bool withData)
{
    if (cleared_)
        return std::nullopt;
    const uint64_t maxN = maxBytes > 0 ? uint64_t(maxBytes) : 0;

    if (maxN > 0 && !lost_.isEmpty()) {
        const auto [s, e] = *lost_.first();
        const uint64_t end = std::min({e, s + std::min(maxN, e - s), nextBoundaryAfter(s)});
        lost_.subtract(s, end);
        return makeChunk(s, end, true, withData);
    }

    if (!markersPending_.empty()) {
        const uint64_t b = *markersPending_.begin();
        markersPending_.erase(markersPending_.begin());
        markersInFlight_.insert(b);
        Chunk c;
        c.offset = b;
        c.messageEnd = true;
        c.fin = finished_ && b == written_ && (!finSent_ || finLost_);
        if (c.fin) {
            finSent_ = true;
            finLost_ = false;
        }
        return c;
    }

    if (maxN > 0 && sentEnd_ < written_ && sentEnd_ < flowLimit) {
        const uint64_t s = sentEnd_;
        const uint64_t end
            = std::min({written_, flowLimit, s + std::min(maxN, written_ - s), nextBoundaryAfter(s)});
        sentEnd_ = end;
        return makeChunk(s, end, false, withData);
    }

    if (finished_ && sentEnd_ == written_ && (!finSent_ || finLost_)) {
        Chunk c;
        c.offset = written_;
        // A zero-length chunk at a boundary always carries it (see onAcked's marker handling).
        c.messageEnd = isBoundary(written_);
        c.fin = true;
        c.retransmission = finSent_;
        finSent_ = true;
        finLost_ = false;
        return c;
    }
    return std::nullopt;
}

bool SendBuffer::hasSendable(uint64_t flowLimit) const
{
    if (cleared_)
        return false;
    return !lost_.isEmpty() || !markersPending_.empty() || (sentEnd_ < written_ && sentEnd_ < flowLimit)
        || (finished_ && sentEnd_ == written_ && (!finSent_ || finLost_));
}

void SendBuffer::onAcked(uint64_t offset, uint64_t length, bool fin)
{
    uint64_t end;
    if (cleared_ || !rangeEnd(offset, length, &end))
        return;
    end = std::min(end, sentEnd_);
    if (offset < end) {
        acked_.add(offset, end);
        lost_.subtract(offset, end);
        if (offset <= ackedPrefix_) // a range above the prefix cannot extend it
            advanceAckedPrefix();
    }
    if (length == 0) {
        // Zero-length chunks at a boundary carry its message end.
        markersInFlight_.erase(offset);
        markersPending_.erase(offset);
    }
    if (fin && finSent_) {
        finAcked_ = true;
        finLost_ = false;
    }
}

void SendBuffer::onLost(uint64_t offset, uint64_t length, bool fin)
{
    uint64_t end;
    if (cleared_ || !rangeEnd(offset, length, &end))
        return;
    end = std::min(end, sentEnd_);
    const uint64_t start = std::max(offset, ackedPrefix_);
    if (start < end)
        acked_.forEachGap(start, end, [this](uint64_t s, uint64_t e) { lost_.add(s, e); });
    if (length == 0) {
        auto it = markersInFlight_.find(offset);
        if (it != markersInFlight_.end()) {
            markersInFlight_.erase(it);
            markersPending_.insert(offset);
        }
    }
    if (fin && finSent_ && !finAcked_)
        finLost_ = true;
}

void SendBuffer::advanceAckedPrefix()
{
    const auto f = acked_.first();
    if (!f || f->first != 0 || f->second <= ackedPrefix_)
        return;
    ackedPrefix_ = f->second;
    while (!segments_.empty() && segments_.front().end() <= ackedPrefix_) {
        held_ -= segments_.front().data.size();
        segments_.pop_front();
        hintIndex_ = std::max<qsizetype>(hintIndex_ - 1, 0); // the hinted segment moved down
    }
    // Strictly below: a boundary at the prefix may still go out with a FIN-only chunk.
    while (!boundaries_.empty() && boundaries_.front() < ackedPrefix_)
        boundaries_.pop_front();
}

qint64 SendBuffer::unackedBytes() const
{
    return cleared_ ? 0 : qint64(written_ - acked_.total());
}

qint64 SendBuffer::queuedBytes() const
{
    return cleared_ ? 0 : qint64(written_ - sentEnd_ + lost_.total());
}

qint64 SendBuffer::inFlightBytes() const
{
    return cleared_ ? 0 : qint64(sentEnd_ - acked_.total() - lost_.total());
}

bool SendBuffer::allAcked() const
{
    if (cleared_)
        return true;
    return ackedPrefix_ == written_ && (!finished_ || finAcked_) && markersPending_.empty()
        && markersInFlight_.empty();
}

void SendBuffer::clear()
{
    segments_.clear();
    hintIndex_ = 0;
    boundaries_.clear();
    acked_.clear();
    lost_.clear();
    markersPending_.clear();
    markersInFlight_.clear();
    held_ = 0;
    finLost_ = false;
    cleared_ = true;
}

} // namespace sss::core
