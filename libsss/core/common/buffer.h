// Bounds-checked byte reader and appending writer with QUIC-style variable-length integers
// (RFC 9000 §16: two high bits give the length, 1/2/4/8 bytes, values up to 2^62-1).
#pragma once

#include <QByteArray>
#include <QtEndian>
#include <cstdint>
#include <cstring>

namespace sss::core {

constexpr uint64_t kVarintMax = (uint64_t(1) << 62) - 1;

constexpr int varintSize(uint64_t v)
{
    return v < 64 ? 1 : v < 16384 ? 2 : v < (uint64_t(1) << 30) ? 4 : 8;
}

// Writes v as a varint of varintSize(v) bytes at p and advances p (the caller made room).
Q_ALWAYS_INLINE void putVarint(char *&p, uint64_t v)
{
    // One big-endian store per length (see Reader::varint).
    const int n = varintSize(v);
    switch (n) {
    case 1:
        *p = char(v);
        break;
    case 2:
        qToBigEndian<quint16>(quint16(v | 0x4000), p);
        break;
    case 4:
        qToBigEndian<quint32>(quint32(v | 0x80000000u), p);
        break;
    default:
        qToBigEndian<quint64>(v | 0xc000000000000000ull, p);
        break;
    }
    p += n;
}

// Reads from a borrowed buffer. Every read checks bounds; after a failed read ok() is false and
// all later reads fail too, so a decoder can read a whole structure and check once.
class Reader
{
public:
    Reader() = default;
    Reader(const char *data, qsizetype size)
        : p_(reinterpret_cast<const uint8_t *>(data)), end_(p_ + size) { }
    explicit Reader(const QByteArray &b) : Reader(b.constData(), b.size()) { }

    bool ok() const { return ok_; }
    bool atEnd() const { return p_ == end_; }
    qsizetype remaining() const { return end_ - p_; }
    const char *current() const { return reinterpret_cast<const char *>(p_); }

    uint8_t u8()
    {
        if (!need(1))
            return 0;
        return *p_++;
    }
    uint16_t u16() { return uint16_t(be(2)); }
    uint32_t u32() { return uint32_t(be(4)); }
    uint64_t u64() { return be(8); }

    // Always inlined: a received packet decodes ~11 varints, and out of line each cost a call
    // plus reloads (~26 instructions). A failed reader has p_ == end_, so the size checks alone
    // also catch earlier failures.
    Q_ALWAYS_INLINE uint64_t varint()
    {
        if (p_ == end_) {
            fail();
            return 0;
        }
        const int len = 1 << (*p_ >> 6);
        if (end_ - p_ < len) {
            fail();
            return 0;
        }
        // One big-endian load per length instead of a byte loop: every received stream frame
        // decodes four varints, the offset one 4 or 8 bytes long.
        uint64_t v;
        switch (len) {
        case 1:
            v = *p_ & 0x3f;
            break;
        case 2:
            v = qFromBigEndian<quint16>(p_) & 0x3fff;
            break;
        case 4:
            v = qFromBigEndian<quint32>(p_) & 0x3fffffff;
            break;
        default:
            v = qFromBigEndian<quint64>(p_) & 0x3fffffffffffffffull;
            break;
        }
        p_ += len;
        return v;
    }

    // Returns a pointer to n bytes and advances, or nullptr (and !ok()) if fewer remain.
    const char *bytes(qsizetype n)
    {
        if (n < 0) {
            fail();
            return nullptr;
        }
        if (!need(n))
            return nullptr;
        const char *r = current();
        p_ += n;
        return r;
    }
    bool copy(void *out, qsizetype n)
    {
        const char *b = bytes(n);
        if (b)
            std::memcpy(out, b, size_t(n));
        return b != nullptr;
    }
    QByteArray byteArray(qsizetype n)
    {
        const char *b = bytes(n);
        return b ? QByteArray(b, n) : QByteArray();
    }
    void skip(qsizetype n) { bytes(n); }
    void fail()
    {
        ok_ = false;
        p_ = end_;
    }

private:
    bool need(qsizetype n)
    {
        if (!ok_ || end_ - p_ < n) {
            fail();
            return false;
        }
        return true;
    }
    uint64_t be(int n)
    {
        if (!need(n))
            return 0;
        uint64_t v = 0;
        for (int i = 0; i < n; ++i)
            v = (v << 8) | *p_++;
        return v;
    }

    const uint8_t *p_ = nullptr;
    const uint8_t *end_ = nullptr;
    bool ok_ = true;
};

// Sets b's size to n in place, without QByteArray::resize()'s out-of-line call, when b is unshared
// and n fits its capacity; false (b unchanged) otherwise. The packet buffer is resized a few times
// per packet and grown ~10 times (Writer::grow). (Always inlined: GCC otherwise calls it out of line.)
Q_ALWAYS_INLINE bool resizeInPlace(QByteArray &b, qsizetype n)
{
    QByteArray::DataPointer &d = b.data_ptr();
    if (Q_LIKELY(!d.needsDetach() && n >= 0 && d.freeSpaceAtBegin() + n < d.constAllocatedCapacity())) {
        d.size = n;
        d.data()[n] = '\0';
        return true;
    }
    return false;
}

Q_ALWAYS_INLINE void setSize(QByteArray &b, qsizetype n)
{
    if (!resizeInPlace(b, n))
        b.resize(n);
}

// Appends to a QByteArray it does not own.
class Writer
{
public:
    explicit Writer(QByteArray &out) : out_(out) { }

    qsizetype size() const { return out_.size(); }
    void u8(uint8_t v) { *grow(1) = char(v); }
    void u16(uint16_t v) { be(v, 2); }
    void u32(uint32_t v) { be(v, 4); }
    void u64(uint64_t v) { be(v, 8); }
    void varint(uint64_t v)
    {
        Q_ASSERT(v <= kVarintMax);
        char *p = grow(varintSize(v));
        putVarint(p, v);
    }
    // resize + memcpy rather than append(): append goes through QByteArray::insert's general
    // path, which shows in the profile when a packet's stream data is copied in.
    void bytes(const char *data, qsizetype n)
    {
        if (n <= 0)
            return;
        std::memcpy(grow(n), data, size_t(n));
    }
    void bytes(const QByteArray &b) { bytes(b.constData(), b.size()); }
    void zeros(qsizetype n) { out_.append(n, '\0'); }

    // Extends the array by n bytes (to be written by the caller) and returns where they start.
    // Frame headers are written a few bytes at a time and stream data copied straight in, ~10 per
    // packet: within the reserved capacity of an unshared array this only moves the size (and the
    // terminator QByteArray keeps) instead of an out-of-line resize(), which detaches and checks.
    // (Always inlined, the resize kept out of line: GCC otherwise calls grow() out of line.)
    Q_ALWAYS_INLINE char *grow(qsizetype n)
    {
        const qsizetype at = out_.size();
        if (Q_LIKELY(resizeInPlace(out_, at + n)))
            return out_.data_ptr().data() + at;
        return growSlow(n);
    }

private:
    [[gnu::noinline]] char *growSlow(qsizetype n)
    {
        const qsizetype at = out_.size();
        out_.resize(at + n);
        return out_.data() + at;
    }
    void be(uint64_t v, int n)
    {
        char *p = grow(n);
        for (int i = n - 1; i >= 0; --i) {
            p[i] = char(v & 0xff);
            v >>= 8;
        }
    }
    QByteArray &out_;
};

} // namespace sss::core
