// NAT boxes: mapping behaviour per type, inbound filtering, expiry, hosts sharing a NAT, mobility
// behind a NAT, and UDP hole punching through a rendezvous server.
#include "sim/network.h"
#include "sim/testsupport.h"

#include <QTest>

using namespace sss;
using namespace std::chrono_literals;
using sim::LinkParams;
using sim::NatBox;

Q_DECLARE_METATYPE(sss::sim::NatBox::Type)

namespace {

QHostAddress ip(const char *s)
{
    return QHostAddress(QString::fromLatin1(s));
}

struct Inbox {
    QList<core::SocketAddress> from;
    QList<QByteArray> bytes;
    void attach(sim::Socket *sock)
    {
        sock->setReceiver([this](const core::SocketAddress &f, const QByteArray &b) {
            from << f;
            bytes << b;
        });
    }
};

// Client C (10.0.0.2) behind NAT N (203.0.113.1); public servers S1, S2 (198.51.100.1/.2), each with
// sockets on ports 1000 and 1001. 5 ms one way on every public path.
struct World {
    sim::Simulator s;
    sim::Network net {s};
    NatBox *nat;
    sim::Host *c, *s1, *s2;
    sim::Socket *sc, *s1a, *s1b, *s2a;
    Inbox atC, atS1a, atS1b, atS2a;

    World(uint64_t seed, NatBox::Type type) : s(seed)
    {
        LinkParams p;
        p.delay = 5ms;
        net.setDefaultLink(p);
        nat = net.addNat(ip("203.0.113.1"), type);
        c = net.addHostBehindNat(ip("10.0.0.2"), nat);
        s1 = net.addHost(ip("198.51.100.1"));
        s2 = net.addHost(ip("198.51.100.2"));
        sc = c->bind(5000);
        s1a = s1->bind(1000);
        s1b = s1->bind(1001);
        s2a = s2->bind(1000);
        atC.attach(sc);
        atS1a.attach(s1a);
        atS1b.attach(s1b);
        atS2a.attach(s2a);
    }
};

} // namespace

class tst_Nat : public QObject
{
    Q_OBJECT
private slots:
    void mapping_data();
    void mapping();
    void filtering_data();
    void filtering();
    void expiry_data();
    void expiry();
    void flushAndTypeChange();
    void sameNatPeers();
    void privateAddressChange();
    void publicAddressChange();
    void holePunching_data();
    void holePunching();
};

void tst_Nat::mapping_data()
{
    QTest::addColumn<NatBox::Type>("type");
    QTest::addColumn<bool>("samePortForAllDestinations");
    QTest::newRow("full cone") << NatBox::Type::FullCone << true;
    QTest::newRow("port-restricted cone") << NatBox::Type::PortRestrictedCone << true;
    QTest::newRow("symmetric") << NatBox::Type::Symmetric << false;
}

void tst_Nat::mapping()
{
    QFETCH(NatBox::Type, type);
    QFETCH(bool, samePortForAllDestinations);
    World w(1, type);
    w.sc->send(w.s1a->localAddress(), "1");
    w.sc->send(w.s1b->localAddress(), "2");
    w.sc->send(w.s2a->localAddress(), "3");
    w.sc->send(w.s1a->localAddress(), "4"); // existing mapping reused
    w.s.run();
    QCOMPARE(w.atS1a.from.size(), 2);
    QCOMPARE(w.atS1b.from.size(), 1);
    QCOMPARE(w.atS2a.from.size(), 1);
    const core::SocketAddress m1 = w.atS1a.from[0];
    QCOMPARE(m1.host, w.nat->publicAddress());
    QCOMPARE(w.atS1a.from[1], m1);
    QVERIFY(m1.port != 0);
    if (samePortForAllDestinations) {
        QCOMPARE(w.atS1b.from[0], m1);
        QCOMPARE(w.atS2a.from[0], m1);
        QCOMPARE(w.nat->stats().mappingsCreated, 1u);
    } else {
        QSet<quint16> ports {m1.port, w.atS1b.from[0].port, w.atS2a.from[0].port};
        QCOMPARE(ports.size(), 3);
        QCOMPARE(w.nat->stats().mappingsCreated, 3u);
    }
    QCOMPARE(w.nat->activeMappings(), samePortForAllDestinations ? 1 : 3);
    QCOMPARE(w.nat->mappedAddress(w.sc->localAddress(), w.s1a->localAddress()), m1);
    QCOMPARE(w.nat->stats().translatedOut, 4u);
    // Replies through the mapping reach the inside socket from the real server address.
    w.s1a->send(m1, "reply");
    w.s.run();
    QCOMPARE(w.atC.from, QList<core::SocketAddress> {w.s1a->localAddress()});
    // Different seeds pick different public ports.
    World other(2, type);
    other.sc->send(other.s1a->localAddress(), "1");
    other.s.run();
    QVERIFY(other.atS1a.from[0].port != m1.port);
}

void tst_Nat::filtering_data()
{
    QTest::addColumn<NatBox::Type>("type");
    QTest::addColumn<bool>("samePort"); // reply from the ip:port the client sent to
    QTest::addColumn<bool>("otherPort"); // same server ip, another port
    QTest::addColumn<bool>("otherHost"); // a server the client never contacted
    QTest::newRow("full cone") << NatBox::Type::FullCone << true << true << true;
    QTest::newRow("port-restricted cone") << NatBox::Type::PortRestrictedCone << true << false << false;
    QTest::newRow("symmetric") << NatBox::Type::Symmetric << true << false << false;
}

void tst_Nat::filtering()
{
    QFETCH(NatBox::Type, type);
    QFETCH(bool, samePort);
    QFETCH(bool, otherPort);
    QFETCH(bool, otherHost);
    World w(3, type);
    // Unsolicited traffic to the NAT before any mapping exists is dropped.
    w.s1a->send(core::SocketAddress {w.nat->publicAddress(), 5000}, "unsolicited");
    w.s.run();
    QCOMPARE(w.atC.bytes.size(), 0);
    QCOMPARE(w.nat->stats().droppedNoMapping, 1u);

    w.sc->send(w.s1a->localAddress(), "hello");
    w.s.run();
    const core::SocketAddress mapped = w.atS1a.from.value(0);
    QCOMPARE(mapped.host, w.nat->publicAddress());
    w.s1a->send(mapped, "samePort");
    w.s1b->send(mapped, "otherPort");
    w.s2a->send(mapped, "otherHost");
    w.s.run();
    QCOMPARE(w.atC.bytes.contains("samePort"), samePort);
    QCOMPARE(w.atC.bytes.contains("otherPort"), otherPort);
    QCOMPARE(w.atC.bytes.contains("otherHost"), otherHost);
    const int blocked = int(!samePort) + int(!otherPort) + int(!otherHost);
    QCOMPARE(w.nat->stats().droppedFiltered, quint64(blocked));
    QCOMPARE(w.net.stats().droppedNat, quint64(blocked) + 1);
    // Once the client has sent to S1:1001 (same mapping for cones), it is let in.
    w.sc->send(w.s1b->localAddress(), "open");
    w.s.run();
    const core::SocketAddress mapped2 = w.atS1b.from.value(0);
    w.s1b->send(mapped2, "otherPort again");
    w.s.run();
    QVERIFY(w.atC.bytes.contains("otherPort again"));
}

void tst_Nat::expiry_data()
{
    QTest::addColumn<NatBox::Type>("type");
    QTest::newRow("full cone") << NatBox::Type::FullCone;
    QTest::newRow("port-restricted cone") << NatBox::Type::PortRestrictedCone;
    QTest::newRow("symmetric") << NatBox::Type::Symmetric;
}

void tst_Nat::expiry()
{
    QFETCH(NatBox::Type, type);
    World w(4, type);
    QCOMPARE(w.nat->mappingTimeout(), core::Duration(120s));
    w.nat->setMappingTimeout(30s);
    w.sc->send(w.s1a->localAddress(), "a"); // leaves the NAT at t = 0
    w.s.run();
    const core::SocketAddress mapped = w.atS1a.from.value(0);
    // A reply reaching the NAT at 29 s passes; inbound traffic does not refresh the mapping.
    w.s.schedule(sim::Simulator::kEpoch + 29s - 5ms, [&] { w.s1a->send(mapped, "at 29 s"); });
    // One reaching it at 31 s is dropped: the mapping has expired.
    w.s.schedule(sim::Simulator::kEpoch + 31s - 5ms, [&] { w.s1a->send(mapped, "at 31 s"); });
    w.s.run();
    QCOMPARE(w.atC.bytes, QList<QByteArray> {"at 29 s"});
    QCOMPARE(w.nat->stats().droppedNoMapping, 1u);
    QCOMPARE(w.nat->stats().mappingsExpired, 1u);
    QCOMPARE(w.nat->activeMappings(), 0);
    QVERIFY(w.nat->mappedAddress(w.sc->localAddress(), w.s1a->localAddress()).isNull());
    // New outbound traffic creates a fresh mapping on another port.
    w.sc->send(w.s1a->localAddress(), "b");
    w.s.run();
    QCOMPARE(w.atS1a.from.size(), 2);
    QVERIFY(w.atS1a.from[1].port != mapped.port);
    QCOMPARE(w.nat->stats().mappingsCreated, 2u);

    // Keepalives every 20 s hold a mapping for minutes.
    const core::SocketAddress held = w.atS1a.from[1];
    for (int i = 1; i <= 10; ++i)
        w.s.scheduleAfter(i * 20s, [&] { w.sc->send(w.s1a->localAddress(), "keepalive"); });
    w.s.run();
    QCOMPARE(w.atS1a.from.last(), held);
    w.s1a->send(held, "still mapped");
    w.s.run();
    QCOMPARE(w.atC.bytes.last(), QByteArray("still mapped"));
}

void tst_Nat::flushAndTypeChange()
{
    World w(5, NatBox::Type::PortRestrictedCone);
    w.sc->send(w.s1a->localAddress(), "a");
    w.s.run();
    const auto mapped = w.atS1a.from[0];
    w.nat->flush();
    QCOMPARE(w.nat->activeMappings(), 0);
    w.s1a->send(mapped, "after flush");
    w.s.run();
    QCOMPARE(w.atC.bytes.size(), 0);
    w.sc->send(w.s1a->localAddress(), "b");
    w.sc->send(w.s2a->localAddress(), "c");
    w.s.run();
    QCOMPARE(w.atS1a.from[1], w.atS2a.from[0]);
    w.nat->setType(NatBox::Type::Symmetric);
    QCOMPARE(w.nat->activeMappings(), 0);
    w.sc->send(w.s1a->localAddress(), "d");
    w.sc->send(w.s2a->localAddress(), "e");
    w.s.run();
    QVERIFY(w.atS1a.from[2].port != w.atS2a.from[1].port);
}

void tst_Nat::sameNatPeers()
{
    World w(6, NatBox::Type::Symmetric);
    auto *d = w.net.addHostBehindNat(ip("10.0.0.3"), w.nat);
    QVERIFY(d);
    QCOMPARE(w.net.addHostBehindNat(ip("10.0.0.3"), w.nat), nullptr);
    QCOMPARE(w.net.addHostBehindNat(ip("10.0.0.4"), nullptr), nullptr);
    QCOMPARE(d->nat(), w.nat);
    auto *sd = d->bind(6000);
    Inbox atD;
    atD.attach(sd);
    w.sc->send(sd->localAddress(), "lan");
    w.s.run();
    QCOMPARE(atD.from, QList<core::SocketAddress> {w.sc->localAddress()});
    QCOMPARE(w.nat->stats().translatedOut, 0u);
    // A public host cannot address a private one directly.
    w.s1a->send(sd->localAddress(), "direct");
    w.s.run();
    QCOMPARE(atD.bytes.size(), 1);
    QCOMPARE(w.net.stats().droppedNoRoute, 1u);
}

void tst_Nat::privateAddressChange()
{
    World w(7, NatBox::Type::PortRestrictedCone);
    w.sc->send(w.s1a->localAddress(), "a");
    w.s.run();
    QVERIFY(w.c->setAddress(ip("10.0.0.77")));
    QCOMPARE(w.sc->localAddress(), (core::SocketAddress {ip("10.0.0.77"), 5000}));
    w.sc->send(w.s1a->localAddress(), "b");
    w.s.run();
    // The inside endpoint changed, so the server sees a new public port.
    QCOMPARE(w.atS1a.from.size(), 2);
    QVERIFY(w.atS1a.from[0].port != w.atS1a.from[1].port);
    // The old mapping still points at the old private address: its replies are lost.
    w.s1a->send(w.atS1a.from[0], "to old");
    w.s1a->send(w.atS1a.from[1], "to new");
    w.s.run();
    QCOMPARE(w.atC.bytes, QList<QByteArray> {"to new"});
}

void tst_Nat::publicAddressChange()
{
    World w(8, NatBox::Type::FullCone);
    QVERIFY(!w.nat->setPublicAddress(w.s1->address()));
    QVERIFY(w.nat->setPublicAddress(ip("203.0.113.99")));
    w.sc->send(w.s1a->localAddress(), "a");
    w.s.run();
    QCOMPARE(w.atS1a.from[0].host, ip("203.0.113.99"));
    w.s1a->send(w.atS1a.from[0], "back");
    w.s.run();
    QCOMPARE(w.atC.bytes.size(), 1);
}

void tst_Nat::holePunching_data()
{
    QTest::addColumn<NatBox::Type>("typeA");
    QTest::addColumn<NatBox::Type>("typeB");
    QTest::addColumn<bool>("works");
    using T = NatBox::Type;
    QTest::newRow("cone/cone") << T::PortRestrictedCone << T::PortRestrictedCone << true;
    QTest::newRow("full/restricted") << T::FullCone << T::PortRestrictedCone << true;
    QTest::newRow("restricted/symmetric") << T::PortRestrictedCone << T::Symmetric << false;
    QTest::newRow("symmetric/symmetric") << T::Symmetric << T::Symmetric << false;
    QTest::newRow("full/symmetric") << T::FullCone << T::Symmetric << true;
}

void tst_Nat::holePunching()
{
    QFETCH(NatBox::Type, typeA);
    QFETCH(NatBox::Type, typeB);
    QFETCH(bool, works);
    for (uint64_t seed : sim::testSeeds(3)) {
        SSS_SEED_GUARD(seed);
        sim::Simulator s(seed);
        sim::Network net(s);
        LinkParams p;
        p.delay = 10ms;
        p.jitter = 5ms;
        net.setDefaultLink(p);
        auto *natA = net.addNat(ip("203.0.113.1"), typeA);
        auto *natB = net.addNat(ip("203.0.113.2"), typeB);
        auto *a = net.addHostBehindNat(ip("10.0.0.2"), natA);
        auto *b = net.addHostBehindNat(ip("10.0.0.2"), natB); // same private address, other LAN
        auto *rv = net.addHost(ip("198.51.100.10"));
        auto *sa = a->bind(4000);
        auto *sb = b->bind(4000);
        auto *srv = rv->bind(3478);
        // Rendezvous: remembers the observed address of each client and tells each the other's.
        QList<core::SocketAddress> seen;
        srv->setReceiver([&](const core::SocketAddress &from, const QByteArray &) {
            if (!seen.contains(from))
                seen << from;
            if (seen.size() == 2) {
                for (int i = 0; i < 2; ++i)
                    srv->send(seen[i], seen[1 - i].toString().toLatin1());
            }
        });
        bool aGot = false, bGot = false;
        auto punch = [&](sim::Socket *sock, bool *got) {
            sock->setReceiver([&s, sock, got, srv](const core::SocketAddress &from, const QByteArray &bytes) {
                if (from == srv->localAddress()) {
                    const int colon = int(bytes.lastIndexOf(':'));
                    const core::SocketAddress peer {QHostAddress(QString::fromLatin1(bytes.left(colon))),
                                                    quint16(bytes.mid(colon + 1).toUInt())};
                    for (int i = 0; i < 5; ++i)
                        s.scheduleAfter(i * 20ms, [sock, peer] { sock->send(peer, "punch"); });
                } else if (bytes == "punch") {
                    *got = true;
                    sock->send(from, "punch-ack"); // answer where it came from, not where we aimed
                } else if (bytes == "punch-ack") {
                    *got = true;
                }
            });
        };
        punch(sa, &aGot);
        punch(sb, &bGot);
        sa->send(srv->localAddress(), "register");
        sb->send(srv->localAddress(), "register");
        s.runFor(2s);
        QCOMPARE(seen.size(), 2);
        QCOMPARE(aGot && bGot, works);
    }
}

QTEST_APPLESS_MAIN(tst_Nat)
#include "tst_nat.moc"
