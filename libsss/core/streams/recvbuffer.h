// Receiver-side stream reassembly: out-of-order segments, message boundaries, final size.
#pragma once

#include <QByteArray>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace sss::core {

class RecvBuffer
{
public:
    enum class Result { Ok, Duplicate, FlowControlViolation, FinalSizeViolation };

    // Validates and stores a received chunk. Errors leave the buffer untouched. Bytes already held
    // or already read keep their first value (a retransmission cannot rewrite them). Ok means
    // something new was learnt (bytes, a boundary or the final size), Duplicate means nothing.
    // Final size is checked before flow control (end > maxOffset).
    // `data` by value: a segment that is all new (in-order data) is kept as given, without a copy.
    Result insert(uint64_t offset, QByteArray data, bool messageEnd, bool fin, uint64_t maxOffset);

    qint64 bytesAvailable() const { return qint64(contiguousEnd_ - readOffset_); } // contiguous, unread
    QByteArray read(qint64 maxBytes); // ignores message boundaries; consumes those it passes
    qint64 peek(char *data, qint64 maxBytes) const;
    qint64 read(char *data, qint64 maxBytes); // read() straight into the caller's memory: one copy
    bool hasMessage() const { return completeMessages_ > 0; }
    qint64 nextMessageSize() const; // -1 if no complete message at the read position
    QByteArray readMessage(); // exactly one message (boundary consumed); empty if none
    int pendingMessageCount() const { return completeMessages_; }

    bool finReceived() const { return finalSize_.has_value(); }
    std::optional<uint64_t> finalSize() const { return finalSize_; }
    bool atEnd() const { return finalSize_ && readOffset_ == *finalSize_; }
    uint64_t readOffset() const { return readOffset_; }
    uint64_t receivedContiguous() const { return contiguousEnd_; }
    uint64_t highestReceived() const { return highest_; }
    qint64 bufferedBytes() const { return buffered_; } // contiguous unread + out of order
    int segmentCount() const { return int(inOrder_.size() - inHead_ + segs_.size()); }

    // On reset: drops buffered data and boundaries. Offsets and final size are kept, and later
    // inserts are still validated (final size, flow control) but their data is discarded.
    void clear();

    // Back to a fresh buffer, keeping the in-order list's storage (see SendBuffer::recycle).
    void recycle()
    {
        std::vector<QByteArray> keep = std::move(inOrder_);
        keep.clear();
        *this = RecvBuffer();
        inOrder_ = std::move(keep);
    }

private:
    void popFront()
    {
        if (inHead_ + 1 == inOrder_.size()) { // drained (storage kept)
            inOrder_.clear();
            inHead_ = 0;
            return;
        }
        inOrder_[inHead_++] = QByteArray(); // (drops the data now: slices pin receive slabs)
        if (inHead_ >= 64 && inHead_ * 2 >= inOrder_.size()) {
            // A reader that never drains the run: drop the taken prefix now and then.
            inOrder_.erase(inOrder_.begin(), inOrder_.begin() + inHead_);
            inHead_ = 0;
        }
    }
    void consume(qint64 n);
    void afterConsume(); // the list's block and the boundaries once readOffset_ has moved

    // [readOffset_, contiguousEnd_) in order, from inOrder_[inHead_] (inHead_ = 0 once drained):
    // in-order arrival (the common case) is a push_back, not a map node per segment, and taking
    // the front moves inHead_. (A vector and an index: QList's append and removeFirst cost several
    // times more.) The front may be a slice narrowed by partial reads.
    std::vector<QByteArray> inOrder_;
    std::map<uint64_t, QByteArray> segs_; // out of order: disjoint, all above contiguousEnd_
    std::set<uint64_t> boundaries_; // message ends > readOffset_
    uint64_t readOffset_ = 0;
    uint64_t contiguousEnd_ = 0;
    uint64_t highest_ = 0;
    std::optional<uint64_t> finalSize_;
    qint64 buffered_ = 0;
    int completeMessages_ = 0; // boundaries in (readOffset_, contiguousEnd_]
    quint32 inHead_ = 0;
    bool discarding_ = false;
};

} // namespace sss::core
