// sss-udp-ceiling: the "raw encrypted UDP ceiling" with our own batching.
//
//   sss-udp-ceiling recv --aead chacha|aes|none --seconds N --port P [--host H] [--portable]
//   sss-udp-ceiling send --aead chacha|aes|none --seconds N --port P [--host H] [--size B] [--batch K]
//   [--portable]
//   sss-udp-ceiling pingpong-server --aead chacha|aes|none --port P [--host H] [--seconds N]
//   sss-udp-ceiling pingpong-client --aead chacha|aes|none --port P [--host H] --seconds N
//
// The sender seals fixed-size datagrams [8-byte packet number | ciphertext | 16-byte tag] with libsodium
// (nonce and AD from the packet number) and blasts them through UdpTransport (GSO batches); the receiver
// opens every one of them. No protocol logic at all: SSS's throughput is judged against this figure.
// Each side prints one line "RESULT side=... gbps=... pps=... cpu=... ns_per_pkt=..." (payload = whole
// UDP payload, as in research/perf-anchors.md).
// Ping-pong: the client seals a 1-byte request, the server opens it and answers with a sealed 1-byte
// response, one round trip at a time: the floor for request/response latency with the same crypto and
// transport. The client prints "RESULT side=pingpong ... rps=... p50_us=... p90_us=... p99_us=...".
#include "udptransport.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QThread>
#include <QTimer>
#include <QtEndian>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sodium.h>
#include <sys/resource.h>
#include <vector>

using sss::core::SocketAddress;
using sss::core::Transmit;
using sss::detail::UdpTransport;

namespace {

enum class Aead { None, ChaCha, Aes };

constexpr int kHeader = 8;
constexpr int kTag = 16;
constexpr char kEndMarker = 'E'; // 1-byte datagram: the sender is done

struct Options {
    bool send = false;
    Aead aead = Aead::ChaCha;
    double seconds = 3;
    quint16 port = 4999;
    QHostAddress host = QHostAddress(QHostAddress::LocalHost);
    int size = 1200;
    int batch = 0; // datagrams per send; 0 = one full GSO run (as SSS's driver sends)
    bool portable = false;
};

double cpuSeconds()
{
    rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
        + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

const char *aeadName(Aead a)
{
    return a == Aead::None ? "none" : a == Aead::ChaCha ? "chacha" : "aes";
}

struct Cipher {
    Aead aead;
    unsigned char key[32];
    // Expanded once, like SSS's PacketProtection (the _afternm API): the ceiling should not pay a
    // per-packet key schedule that SSS does not pay.
    crypto_aead_aes256gcm_state aesState;
    explicit Cipher(Aead a) : aead(a)
    {
        // A fixed key shared by both processes: this measures cost, not secrecy.
        for (int i = 0; i < 32; ++i)
            key[i] = static_cast<unsigned char>(i * 29 + 7);
        if (aead == Aead::Aes)
            crypto_aead_aes256gcm_beforenm(&aesState, key);
    }
    static void nonce(quint64 pn, unsigned char out[12])
    {
        std::memset(out, 0, 12);
        qToBigEndian(pn, out + 4);
    }
    // buf = [pn | plaintext (size - 24) | tag room]; sealed in place.
    void seal(quint64 pn, char *buf, int size) const
    {
        qToBigEndian(pn, buf);
        if (aead == Aead::None)
            return;
        unsigned char n[12];
        nonce(pn, n);
        auto *p = reinterpret_cast<unsigned char *>(buf + kHeader);
        const unsigned long long plain = static_cast<unsigned long long>(size - kHeader - kTag);
        unsigned long long clen = 0;
        const auto *ad = reinterpret_cast<const unsigned char *>(buf);
        if (aead == Aead::ChaCha)
            crypto_aead_chacha20poly1305_ietf_encrypt(p, &clen, p, plain, ad, kHeader, nullptr, n, key);
        else
            crypto_aead_aes256gcm_encrypt_afternm(p, &clen, p, plain, ad, kHeader, nullptr, n, &aesState);
    }
    // Opens into `out` (the receive buffer is the transport's, read-only). Returns false on a bad tag.
    bool open(const char *buf, int size, quint64 *pn, unsigned char *out) const
    {
        *pn = qFromBigEndian<quint64>(buf);
        if (aead == Aead::None)
            return true;
        unsigned char n[12];
        nonce(*pn, n);
        const auto *c = reinterpret_cast<const unsigned char *>(buf + kHeader);
        const unsigned long long clen = static_cast<unsigned long long>(size - kHeader);
        unsigned long long mlen = 0;
        const auto *ad = reinterpret_cast<const unsigned char *>(buf);
        if (aead == Aead::ChaCha)
            return crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, nullptr, c, clen, ad, kHeader, n,
                                                             key)
                == 0;
        return crypto_aead_aes256gcm_decrypt_afternm(out, &mlen, nullptr, c, clen, ad, kHeader, n, &aesState)
            == 0;
    }
};

void printResult(const char *side, const Options &o, quint64 pkts, quint64 bytes, double secs, double cpu,
                 const UdpTransport &t, const QString &extra)
{
    const auto st = t.stats();
    const double gbps = secs > 0 ? double(bytes) * 8 / secs / 1e9 : 0;
    const double pps = secs > 0 ? double(pkts) / secs : 0;
    std::printf(
        "RESULT side=%s aead=%s size=%d path=%s gso=%d gro=%d pkts=%llu seconds=%.3f gbps=%.3f pps=%.0f "
        "cpu=%.1f ns_per_pkt=%.0f send_calls=%llu recv_calls=%llu send_errors=%llu gso_batches=%llu%s\n",
        side, aeadName(o.aead), o.size, t.isFastPath() ? "fast" : "qt", t.gsoEnabled(), t.groEnabled(),
        static_cast<unsigned long long>(pkts), secs, gbps, pps, secs > 0 ? cpu / secs * 100 : 0,
        pkts ? cpu * 1e9 / double(pkts) : 0, static_cast<unsigned long long>(st.sendCalls),
        static_cast<unsigned long long>(st.recvCalls), static_cast<unsigned long long>(st.sendErrors),
        static_cast<unsigned long long>(st.gsoBatches), qPrintable(extra));
    std::fflush(stdout);
}

int runSend(const Options &o)
{
    UdpTransport t;
    const QHostAddress bindHost = o.host.protocol() == QAbstractSocket::IPv6Protocol
        ? QHostAddress(QHostAddress::LocalHostIPv6)
        : QHostAddress(QHostAddress::AnyIPv4);
    if (!t.bind(bindHost, 0, o.portable ? UdpTransport::Mode::Portable : UdpTransport::Mode::Auto)) {
        std::fprintf(stderr, "bind: %s\n", qPrintable(t.errorString()));
        return 1;
    }
    const SocketAddress to {o.host, o.port};
    const Cipher cipher(o.aead);
    // One buffer per batch slot, owned uniquely so data() never detaches: no allocation in the loop.
    std::vector<Transmit> batch(size_t(o.batch));
    for (Transmit &x : batch)
        x = {to, QByteArray(o.size, '\x5a')};
    quint64 pn = 0;
    QElapsedTimer clock;
    const double cpu0 = cpuSeconds();
    clock.start();
    const qint64 limitNs = qint64(o.seconds * 1e9);
    while (clock.nsecsElapsed() < limitNs) {
        for (Transmit &x : batch) {
            char *b = x.bytes.data();
            std::memset(b + kHeader, 0x5a, size_t(o.size - kHeader)); // fresh plaintext, as a real sender has
            cipher.seal(pn++, b, o.size);
        }
        t.send(batch.data(), qsizetype(batch.size()));
    }
    const double secs = double(clock.nsecsElapsed()) / 1e9;
    const double cpu = cpuSeconds() - cpu0;
    const quint64 sent = pn - t.stats().sendErrors;
    printResult("send", o, sent, sent * quint64(o.size), secs, cpu, t, QString());
    const Transmit end {to, QByteArray(1, kEndMarker)};
    for (int i = 0; i < 20; ++i) { // loss-tolerant end marker
        t.send(&end, 1);
        QThread::msleep(5);
    }
    return 0;
}

int runRecv(const Options &o, QCoreApplication &app)
{
    UdpTransport t;
    if (!t.bind(o.host, o.port, o.portable ? UdpTransport::Mode::Portable : UdpTransport::Mode::Auto)) {
        std::fprintf(stderr, "bind: %s\n", qPrintable(t.errorString()));
        return 1;
    }
    const Cipher cipher(o.aead);
    std::vector<unsigned char> plain(65536);
    quint64 pkts = 0, bytes = 0, bad = 0, maxPn = 0;
    bool started = false, finished = false;
    double cpu0 = 0;
    QElapsedTimer clock;
    qint64 lastNs = 0;
    auto finish = [&] {
        if (finished)
            return;
        finished = true;
        const double secs = double(lastNs) / 1e9;
        const double cpu = cpuSeconds() - cpu0;
        const double lossPct
            = started && maxPn + 1 > pkts ? 100.0 * double(maxPn + 1 - pkts) / double(maxPn + 1) : 0;
        printResult("recv", o, pkts, bytes, secs, cpu, t,
                    QStringLiteral(" bad=%1 loss=%2").arg(bad).arg(lossPct, 0, 'f', 2));
        app.quit();
    };
    t.setHandlers(
        [&](const SocketAddress &, const char *data, qsizetype size) {
            if (size == 1 && data[0] == kEndMarker) {
                if (started)
                    finish();
                return;
            }
            if (size < kHeader + kTag)
                return;
            if (!started) {
                started = true;
                cpu0 = cpuSeconds();
                clock.start();
            }
            quint64 pn = 0;
            if (!cipher.open(data, int(size), &pn, plain.data())) {
                ++bad;
                return;
            }
            ++pkts;
            bytes += quint64(size);
            maxPn = qMax(maxPn, pn);
            lastNs = clock.nsecsElapsed();
        },
        [] {});
    // Give up if the sender never shows or its end markers are all lost.
    QTimer::singleShot(int((o.seconds + 10) * 1000), &app, [&] {
        if (!started) {
            std::fprintf(stderr, "recv: no data\n");
            app.exit(2);
        } else {
            finish();
        }
    });
    std::printf("READY port=%u\n", t.localAddress().port);
    std::fflush(stdout);
    return app.exec();
}

// ---- ping-pong: 1-byte sealed request, 1-byte sealed response, one in flight.
constexpr int kPingSize = kHeader + 1 + kTag;
constexpr quint64 kResponseBit = quint64(1) << 63; // responses use their own nonces under the same key

int runPingServer(const Options &o, QCoreApplication &app)
{
    UdpTransport t;
    if (!t.bind(o.host, o.port, o.portable ? UdpTransport::Mode::Portable : UdpTransport::Mode::Auto)) {
        std::fprintf(stderr, "bind: %s\n", qPrintable(t.errorString()));
        return 1;
    }
    const Cipher cipher(o.aead);
    unsigned char plain[64];
    Transmit reply {{}, QByteArray(kPingSize, '\0')};
    quint64 served = 0, bad = 0;
    t.setHandlers(
        [&](const SocketAddress &from, const char *data, qsizetype size) {
            quint64 pn = 0;
            if (size != kPingSize || !cipher.open(data, int(size), &pn, plain) || (pn & kResponseBit)) {
                ++bad;
                return;
            }
            reply.to = from;
            char *b = reply.bytes.data();
            b[kHeader] = char(plain[0] ^ 0xff);
            cipher.seal(pn | kResponseBit, b, kPingSize);
            t.send(&reply, 1);
            ++served;
        },
        [] {});
    std::printf("READY port=%u\n", t.localAddress().port);
    std::fflush(stdout);
    QTimer::singleShot(int((o.seconds + 10) * 1000), &app, &QCoreApplication::quit);
    const int rc = app.exec();
    std::printf("RESULT side=pingpong-server aead=%s served=%llu bad=%llu\n", aeadName(o.aead),
                static_cast<unsigned long long>(served), static_cast<unsigned long long>(bad));
    return rc;
}

int runPingClient(const Options &o, QCoreApplication &app)
{
    UdpTransport t;
    const QHostAddress bindHost = o.host.protocol() == QAbstractSocket::IPv6Protocol
        ? QHostAddress(QHostAddress::LocalHostIPv6)
        : QHostAddress(QHostAddress::AnyIPv4);
    if (!t.bind(bindHost, 0, o.portable ? UdpTransport::Mode::Portable : UdpTransport::Mode::Auto)) {
        std::fprintf(stderr, "bind: %s\n", qPrintable(t.errorString()));
        return 1;
    }
    const Cipher cipher(o.aead);
    Transmit req {{o.host, o.port}, QByteArray(kPingSize, '\0')};
    unsigned char plain[64];
    std::vector<double> rtts;
    rtts.reserve(1 << 20);
    quint64 pn = 0, bad = 0;
    QElapsedTimer clock;
    qint64 sentAt = 0;
    const double cpu0 = cpuSeconds();
    const qint64 limitNs = qint64(o.seconds * 1e9);
    auto ping = [&] {
        char *b = req.bytes.data();
        b[kHeader] = char(pn & 0x7f);
        cipher.seal(pn, b, kPingSize);
        sentAt = clock.nsecsElapsed();
        t.send(&req, 1);
    };
    t.setHandlers(
        [&](const SocketAddress &, const char *data, qsizetype size) {
            quint64 rpn = 0;
            if (size != kPingSize || !cipher.open(data, int(size), &rpn, plain) || rpn != (pn | kResponseBit)
                || plain[0] != ((pn & 0x7f) ^ 0xff)) {
                ++bad;
                return;
            }
            const qint64 now = clock.nsecsElapsed();
            rtts.push_back(double(now - sentAt) / 1e3);
            ++pn;
            if (now >= limitNs)
                app.quit();
            else
                ping();
        },
        [] {});
    // A lost datagram would stall the ping-pong: resend the same request after 200 ms of silence.
    QTimer retry;
    QObject::connect(&retry, &QTimer::timeout, [&] {
        if (clock.nsecsElapsed() - sentAt > 200'000'000)
            t.send(&req, 1);
    });
    retry.start(100);
    QTimer::singleShot(int((o.seconds + 10) * 1000), &app, &QCoreApplication::quit);
    clock.start();
    ping();
    app.exec();
    const double secs = double(clock.nsecsElapsed()) / 1e9;
    const double cpu = cpuSeconds() - cpu0;
    std::sort(rtts.begin(), rtts.end());
    auto pct = [&](double p) { return rtts.empty() ? 0.0 : rtts[size_t(p / 100 * double(rtts.size() - 1))]; };
    std::printf(
        "RESULT side=pingpong aead=%s rtts=%zu seconds=%.3f rps=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f "
        "cpu=%.1f bad=%llu\n",
        aeadName(o.aead), rtts.size(), secs, secs > 0 ? double(rtts.size()) / secs : 0, pct(50), pct(90),
        pct(99), secs > 0 ? cpu / secs * 100 : 0, static_cast<unsigned long long>(bad));
    std::fflush(stdout);
    return rtts.empty() ? 1 : 0;
}

void usage()
{
    std::fprintf(stderr,
                 "usage: sss-udp-ceiling send|recv|pingpong-server|pingpong-client --aead chacha|aes|none "
                 "--seconds N --port P [--host H] "
                 "[--size B] [--batch K] [--portable]\n");
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (sodium_init() < 0) {
        std::fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    const QStringList args = app.arguments();
    const QStringList roles {"send", "recv", "pingpong-server", "pingpong-client"};
    if (args.size() < 2 || !roles.contains(args[1])) {
        usage();
        return 1;
    }
    Options o;
    o.send = args[1] == QLatin1String("send");
    for (int i = 2; i < args.size(); ++i) {
        const QString &a = args[i];
        const bool hasValue = i + 1 < args.size();
        const QString v = hasValue ? args[i + 1] : QString();
        bool ok = true;
        if (a == QLatin1String("--portable")) {
            o.portable = true;
            continue;
        }
        if (!hasValue) {
            usage();
            return 1;
        }
        ++i;
        if (a == QLatin1String("--aead")) {
            if (v == QLatin1String("chacha"))
                o.aead = Aead::ChaCha;
            else if (v == QLatin1String("aes"))
                o.aead = Aead::Aes;
            else if (v == QLatin1String("none"))
                o.aead = Aead::None;
            else
                ok = false;
        } else if (a == QLatin1String("--seconds")) {
            o.seconds = v.toDouble(&ok);
        } else if (a == QLatin1String("--port")) {
            o.port = v.toUShort(&ok);
        } else if (a == QLatin1String("--host")) {
            ok = o.host.setAddress(v);
        } else if (a == QLatin1String("--size")) {
            o.size = v.toInt(&ok);
            ok = ok && o.size >= kHeader + kTag && o.size <= 65000;
        } else if (a == QLatin1String("--batch")) {
            o.batch = v.toInt(&ok);
            ok = ok && o.batch >= 1 && o.batch <= 1024;
        } else {
            ok = false;
        }
        if (!ok) {
            std::fprintf(stderr, "bad option %s %s\n", qPrintable(a), qPrintable(v));
            usage();
            return 1;
        }
    }
    if (o.batch == 0) // SSS hands the kernel one full run per send (sendInRuns()): so does the ceiling
        o.batch = std::min<int>(UdpTransport::kMaxRunDatagrams, int(UdpTransport::kMaxRunBytes / o.size));
    if (o.aead == Aead::Aes && !crypto_aead_aes256gcm_is_available()) {
        std::fprintf(stderr, "AES-256-GCM is not available on this CPU\n");
        return 1;
    }
    if (args[1] == QLatin1String("pingpong-server"))
        return runPingServer(o, app);
    if (args[1] == QLatin1String("pingpong-client"))
        return runPingClient(o, app);
    return o.send ? runSend(o) : runRecv(o, app);
}
