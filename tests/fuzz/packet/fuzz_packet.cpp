// Fuzz target for Endpoint::handleDatagram: arbitrary datagrams sent to B, which has a live channel with A.
// The first input byte picks a framing: raw bytes, or a short header carrying the live connection id (so
// the AEAD path runs), from A's address or another one. Nothing may crash, and nothing an attacker without
// the keys sends may change the channel: its statistics must stay equal except packetsDropped (+0 or +1),
// and no session or handshake state may appear.
#include "channel/channel.h"
#include "channel/endpoint.h"
#include "crypto/identity.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using namespace sss::core;

QList<QByteArray> sssFuzzPacketCorpus(); // captured A -> B packets, for the corpus driver
quint64 sssFuzzPacketDrops(); // B's packetsDropped so far: proves the AEAD path ran

namespace {

void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz_packet: invariant violated: %s\n", what);
        std::abort();
    }
}

struct Fixture {
    Fixture()
        : a(crypto::StaticIdentity::fromSeed(QByteArray(32, '\x0a'))),
          b(crypto::StaticIdentity::fromSeed(QByteArray(32, '\x0b')))
    {
        rngA.seed(1);
        rngB.seed(2);
        a.setRandomSource([this](uint8_t *o, size_t n) {
            for (size_t i = 0; i < n; ++i)
                o[i] = uint8_t(rngA());
        });
        b.setRandomSource([this](uint8_t *o, size_t n) {
            for (size_t i = 0; i < n; ++i)
                o[i] = uint8_t(rngB());
        });
        b.listen(QStringLiteral("svc"), QStringLiteral("p"));
        const StreamHandle s
            = a.connectStream(now, b.peerId(), addrB, QStringLiteral("svc"), QStringLiteral("p"));
        a.write(now, s, "hello", 5);
        for (int i = 0; i < 300; ++i) {
            pump();
            now += std::chrono::milliseconds(1);
            if (a.nextTimeout() <= now)
                a.handleTimeout(now);
            if (b.nextTimeout() <= now)
                b.handleTimeout(now);
        }
        check(b.channelStats().size() == 1 && cid != 0 && b.streamStats().size() == 1,
              "fixture did not connect");
    }

    void pump()
    {
        for (bool moved = true; moved;) {
            moved = false;
            while (auto t = a.pollTransmit(now)) {
                if (!t->bytes.isEmpty() && (quint8(t->bytes[0]) & kShortHeaderFlag) && t->bytes.size() > 9) {
                    quint64 c = 0;
                    for (int i = 1; i <= 8; ++i)
                        c = (c << 8) | quint8(t->bytes[i]);
                    cid = c;
                }
                captured.append(t->bytes);
                b.handleDatagram(now, addrA, t->bytes);
                moved = true;
            }
            while (auto t = b.pollTransmit(now)) {
                a.handleDatagram(now, addrB, t->bytes);
                moved = true;
            }
            a.afterTransmit();
            b.afterTransmit();
            while (auto e = b.pollEvent()) {
                if (e->type == Event::Type::NewConnection || e->type == Event::Type::Readable) {
                    char buf[64];
                    while (b.read(e->stream, buf, sizeof buf) > 0) { }
                    b.write(now, e->stream, "world", 5);
                }
            }
            while (a.pollEvent()) { }
        }
    }

    Endpoint a, b;
    std::mt19937_64 rngA, rngB;
    Instant now = Instant {} + std::chrono::hours(1);
    SocketAddress addrA {QHostAddress(QStringLiteral("10.0.0.1")), 4000};
    SocketAddress addrB {QHostAddress(QStringLiteral("10.0.0.2")), 5000};
    SocketAddress stranger {QHostAddress(QStringLiteral("203.0.113.9")), 6000};
    quint64 cid = 0;
    QList<QByteArray> captured;
};

Fixture &fixture()
{
    static Fixture f;
    return f;
}

bool sameExceptDrops(const ChannelStats &x, const ChannelStats &y)
{
    return x.peerId == y.peerId && x.peerAddress == y.peerAddress && x.status == y.status
        && x.cipher == y.cipher && x.srtt == y.srtt && x.rttvar == y.rttvar && x.cwnd == y.cwnd
        && x.bytesInFlight == y.bytesInFlight && x.packetsSent == y.packetsSent
        && x.packetsReceived == y.packetsReceived && x.bytesSent == y.bytesSent
        && x.bytesReceived == y.bytesReceived && x.packetsLost == y.packetsLost
        && x.keyUpdates == y.keyUpdates && x.streamCount == y.streamCount;
}

} // namespace

QList<QByteArray> sssFuzzPacketCorpus()
{
    return fixture().captured;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Fixture &f = fixture();
    if (size == 0)
        return 0;
    const quint8 mode = data[0];
    QByteArray pkt;
    if (mode & 1) {
        // Short header with the live cid; the rest (packet number, ciphertext, tag) from the input.
        pkt.resize(1 + 8);
        pkt[0] = char(kShortHeaderFlag | (mode >> 7));
        for (int i = 0; i < 8; ++i)
            pkt[1 + i] = char(f.cid >> (56 - 8 * i));
        pkt.append(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    } else {
        pkt = QByteArray(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    }
    const SocketAddress &from = (mode & 2) ? f.stranger : f.addrA;

    const QList<ChannelStats> before = f.b.channelStats();
    const quint64 sessions = f.b.sessionCount(), handshakes = f.b.handshakeStateCount();
    f.b.handleDatagram(f.now, from, pkt);
    const QList<ChannelStats> after = f.b.channelStats();
    check(after.size() == before.size(), "channel count changed");
    check(f.b.sessionCount() == sessions, "session count changed");
    check(f.b.handshakeStateCount() == handshakes, "handshake state changed");
    for (qsizetype i = 0; i < after.size(); ++i) {
        check(sameExceptDrops(before[i], after[i]), "channel statistics changed");
        check(after[i].packetsDropped - before[i].packetsDropped <= 1, "more than one drop for one datagram");
    }
    // A stale retransmitted initiation may legitimately be answered again; nothing else may be.
    while (auto t = f.b.pollTransmit(f.now))
        check(!t->bytes.isEmpty() && t->bytes[0] == char(0x02) && t->to == f.addrA, "unexpected transmit");
    while (f.b.pollEvent()) { }
    return 0;
}

quint64 sssFuzzPacketDrops()
{
    const QList<ChannelStats> st = fixture().b.channelStats();
    return st.isEmpty() ? 0 : st.first().packetsDropped;
}
