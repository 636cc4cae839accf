#include "recvbuffer.h"

#include "sendbuffer.h" // sharedSlice

#include <algorithm>
#include <cstring>
#include <limits>

namespace sss::core {

RecvBuffer::Result RecvBuffer::insert(uint64_t offset, QByteArray data, bool messageEnd, bool fin,
                                      uint64_t maxOffset)
{
    const uint64_t len = uint64_t(data.size());
    if (len > std::numeric_limits<uint64_t>::max() - offset)
        return Result::FlowControlViolation;
    const uint64_t end = offset + len;
    if (finalSize_) {
        if (end > *finalSize_ || (fin && end != *finalSize_))
            return Result::FinalSizeViolation;
    } else if (fin && end < highest_) {
        return Result::FinalSizeViolation;
    }
    if (end > maxOffset)
        return Result::FlowControlViolation;

    bool changed = false;
    if (fin && !finalSize_) {
        finalSize_ = end;
        changed = true;
    }
    highest_ = std::max(highest_, end);
    if (discarding_)
        return changed ? Result::Ok : Result::Duplicate;

    const uint64_t oldContiguous = contiguousEnd_;
    if (len > 0 && end > contiguousEnd_ && offset <= contiguousEnd_ && segs_.empty()) {
        // In order with nothing out of order held: append the new part.
        const qsizetype n = qsizetype(end - contiguousEnd_);
        if (offset == contiguousEnd_)
            inOrder_.push_back(std::move(data));
        else
            inOrder_.push_back(sharedSlice(data, qsizetype(contiguousEnd_ - offset), n));
        buffered_ += n;
        contiguousEnd_ = end;
        changed = true;
    } else if (len > 0 && end > contiguousEnd_) {
        // Store only the gaps between held segments, as slices sharing `data`. Everything below
        // contiguousEnd_ is held or read already.
        uint64_t pos = std::max(offset, contiguousEnd_);
        auto it = segs_.upper_bound(pos);
        if (it != segs_.begin()) {
            auto prev = std::prev(it);
            pos = std::max(pos, prev->first + uint64_t(prev->second.size()));
        }
        while (pos < end) {
            const uint64_t gapEnd = (it == segs_.end() || it->first > end) ? end : it->first;
            if (gapEnd > pos) {
                const qsizetype n = qsizetype(gapEnd - pos);
                segs_.emplace_hint(it, pos, sharedSlice(data, qsizetype(pos - offset), n));
                buffered_ += n;
                changed = true;
            }
            if (it == segs_.end())
                break;
            pos = it->first + uint64_t(it->second.size());
            ++it;
        }
        // Segments that now continue the in-order run move there.
        while (!segs_.empty() && segs_.begin()->first == contiguousEnd_) {
            auto node = segs_.extract(segs_.begin());
            contiguousEnd_ += uint64_t(node.mapped().size());
            inOrder_.push_back(std::move(node.mapped()));
        }
    }

    if (messageEnd && end > readOffset_ && boundaries_.insert(end).second) {
        changed = true;
        if (end <= oldContiguous)
            ++completeMessages_; // one in (oldContiguous, contiguousEnd_] is counted below
    }

    if (contiguousEnd_ != oldContiguous && !boundaries_.empty()) {
        for (auto b = boundaries_.upper_bound(oldContiguous); b != boundaries_.end() && *b <= contiguousEnd_;
             ++b)
            ++completeMessages_;
    }
    return changed ? Result::Ok : Result::Duplicate;
}

void RecvBuffer::consume(qint64 n)
{
    readOffset_ += uint64_t(n);
    buffered_ -= n;
    // n <= bytesAvailable(): all of it is in the in-order run.
    while (n > 0) {
        QByteArray &front = inOrder_[inHead_];
        if (front.size() <= n) {
            n -= front.size();
            popFront();
        } else {
            front = sharedSlice(front, n, front.size() - n);
            n = 0;
        }
    }
    afterConsume();
}

void RecvBuffer::afterConsume()
{
    // Drained: give the list's block back, so an idle stream that has been read holds none (a busy
    // stream pays one allocation per drained read, not one per segment). Once the FIN is in, nothing
    // more comes: the block stays for recycle(), and the next stream's first segment (a request's)
    // costs no allocation.
    if (inOrder_.empty() && !finalSize_)
        inOrder_ = std::vector<QByteArray>();
    while (!boundaries_.empty() && *boundaries_.begin() <= readOffset_) {
        boundaries_.erase(boundaries_.begin());
        --completeMessages_;
    }
}

QByteArray RecvBuffer::read(qint64 maxBytes)
{
    const qint64 n = std::min(maxBytes, bytesAvailable());
    if (n <= 0)
        return QByteArray();
    QByteArray &front = inOrder_[inHead_];
    QByteArray out;
    if (front.size() == n) {
        // A whole segment (a request, an answer): handed over as it is, not as a slice of itself.
        out = std::move(front);
        popFront();
        readOffset_ += uint64_t(n);
        buffered_ -= n;
        afterConsume();
        return out;
    }
    if (front.size() > n) {
        out = sharedSlice(front, 0, n);
    } else {
        out = QByteArray(n, Qt::Uninitialized);
        peek(out.data(), n);
    }
    consume(n);
    return out;
}

qint64 RecvBuffer::read(char *data, qint64 maxBytes)
{
    const qint64 n = peek(data, maxBytes);
    if (n > 0)
        consume(n);
    return n;
}

qint64 RecvBuffer::peek(char *data, qint64 maxBytes) const
{
    const qint64 n = std::min(maxBytes, bytesAvailable());
    if (n <= 0)
        return 0;
    qint64 copied = 0;
    for (auto it = inOrder_.cbegin() + inHead_; copied < n; ++it) {
        const qint64 take = std::min(n - copied, qint64(it->size()));
        std::memcpy(data + copied, it->constData(), size_t(take));
        copied += take;
    }
    return n;
}

qint64 RecvBuffer::nextMessageSize() const
{
    if (completeMessages_ == 0)
        return -1;
    return qint64(*boundaries_.begin() - readOffset_);
}

QByteArray RecvBuffer::readMessage()
{
    const qint64 n = nextMessageSize();
    return n > 0 ? read(n) : QByteArray();
}

void RecvBuffer::clear()
{
    inOrder_.clear();
    inHead_ = 0;
    segs_.clear();
    boundaries_.clear();
    buffered_ = 0;
    completeMessages_ = 0;
    contiguousEnd_ = readOffset_;
    discarding_ = true;
}

} // namespace sss::core
