// sss-loopback-demo: two Hosts in one process on 127.0.0.1. A secure handshake, a 32 MiB transfer checked
// with SHA-256 at both ends, substream request/responses, a datagram, a priority change, and the
// channel statistics, each printed as it happens. Exit code 0 when everything checked out.
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QPointer>
#include <QRandomGenerator>
#include <QTimer>
#include <QVariant>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <sss/host.h>
#include <sss/identity.h>
#include <sss/server.h>
#include <sss/stream.h>

using sss::Host;
using sss::Stream;

namespace {

constexpr qint64 kTransferBytes = 32ll * 1024 * 1024;

// Runs the event loop until done() or the timeout.
bool spinUntil(const std::function<bool()> &done, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    QTimer wake;
    wake.setSingleShot(true);
    wake.setTimerType(Qt::PreciseTimer);
    while (!done()) {
        if (deadline.hasExpired())
            return done();
        if (!wake.isActive()) // re-armed: a timer may fire a little early
            wake.start(std::max<qint64>(1, deadline.remainingTime()));
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    }
    return true;
}

double msSince(const QElapsedTimer &t)
{
    return double(t.nsecsElapsed()) / 1e6;
}

int failures = 0;

bool check(bool ok, const QString &what)
{
    std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", qPrintable(what));
    std::fflush(stdout);
    if (!ok)
        ++failures;
    return ok;
}

void printChannel(const char *who, const Host &host)
{
    for (const sss::ChannelInfo &c : host.channels()) {
        std::printf("  %s -> %s (%s:%u)\n", who, qPrintable(c.peerId.toString().left(12) + "..."),
                    qPrintable(c.peerAddress.toString()), unsigned(c.peerPort));
        std::printf("      cipher %s, congestion %s, srtt %.1f us (min %.1f, var %.1f), cwnd %lld B, in "
                    "flight %lld B\n",
                    qPrintable(c.cipher), qPrintable(c.congestionAlgorithm), double(c.srtt.count()),
                    double(c.minRtt.count()), double(c.rttVariance.count()), c.congestionWindow,
                    c.bytesInFlight);
        std::printf("      packets sent %llu / received %llu, bytes sent %llu / received %llu\n",
                    (unsigned long long)c.packetsSent, (unsigned long long)c.packetsReceived,
                    (unsigned long long)c.bytesSent, (unsigned long long)c.bytesReceived);
        std::printf(
            "      packets lost %llu, retransmitted %llu B, dropped %llu, key updates %llu, streams %d\n",
            (unsigned long long)c.packetsLost, (unsigned long long)c.retransmittedBytes,
            (unsigned long long)c.packetsDropped, (unsigned long long)c.keyUpdates, c.streamCount);
        std::printf("      datagram size %d B (path MTU probes %llu, lost %llu, black holes %llu)\n",
                    c.maxDatagramSize, (unsigned long long)c.mtuProbesSent,
                    (unsigned long long)c.mtuProbesLost, (unsigned long long)c.mtuBlackHoles);
    }
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // lines appear as they happen, also through a pipe
    std::printf("SSS loopback demo: two hosts in one process on 127.0.0.1\n\n");

    // ---- hosts
    Host alice, bob; // alice serves, bob connects
    alice.setIdentity(sss::Identity::generate());
    bob.setIdentity(sss::Identity::generate());
    if (!alice.bind(QHostAddress::LocalHost) || !bob.bind(QHostAddress::LocalHost)) {
        std::fprintf(stderr, "bind failed: %s %s\n", qPrintable(alice.errorString()),
                     qPrintable(bob.errorString()));
        return 1;
    }
    std::printf("alice (server): PeerId %s  udp 127.0.0.1:%u\n", qPrintable(alice.peerId().toString()),
                unsigned(alice.localPort()));
    std::printf("bob   (client): PeerId %s  udp 127.0.0.1:%u\n\n", qPrintable(bob.peerId().toString()),
                unsigned(bob.localPort()));

    sss::Server server(&alice);
    if (!server.listen("demo", "1")) {
        std::fprintf(stderr, "listen failed: %s\n", qPrintable(server.errorString()));
        return 1;
    }

    // Alice's side: accept the top-level stream, accept its substreams and serve them.
    QPointer<Stream> aliceCtl;
    QCryptographicHash aliceHash(QCryptographicHash::Sha256);
    qint64 aliceReceived = 0;
    QByteArray aliceDatagram;
    int alicePriority = 0;
    QPointer<Stream> alicePrioStream;
    QObject::connect(&server, &sss::Server::newConnection, [&] {
        while (Stream *s = server.nextPendingConnection()) {
            aliceCtl = s;
            s->listen(Stream::ListenMode::AcceptSubstreams);
            QObject::connect(s, &Stream::readyReadDatagram, [s, &aliceDatagram] {
                while (s->hasPendingDatagrams())
                    aliceDatagram = s->readDatagram();
            });
            QObject::connect(s, &Stream::newSubstream, [&, s] {
                while (Stream *sub = s->acceptSubstream()) {
                    // The first byte says what the substream is for: 'T' transfer, 'R' request.
                    auto serve = [&, sub] {
                        if (!sub->property("kind").isValid()) {
                            char k;
                            if (sub->read(&k, 1) != 1)
                                return;
                            sub->setProperty("kind", QChar(k));
                        }
                        const QChar kind = sub->property("kind").toChar();
                        if (kind == 'T') {
                            static QByteArray buf(256 * 1024, Qt::Uninitialized);
                            qint64 n;
                            while (sub->bytesAvailable() > 0 && (n = sub->read(buf.data(), buf.size())) > 0) {
                                aliceHash.addData(QByteArrayView(buf.constData(), n));
                                aliceReceived += n;
                            }
                        } else if (kind == 'R') {
                            const QByteArray got = sub->property("line").toByteArray() + sub->readAll();
                            sub->setProperty("line", got);
                            if (got.endsWith('\n') && !sub->property("answered").toBool()) {
                                sub->setProperty("answered", true);
                                sub->write("response to '" + got.trimmed() + "'\n");
                                sub->shutdown();
                            }
                        } else if (kind == 'P') {
                            alicePrioStream = sub;
                            alicePriority = sub->priority();
                            sub->readAll();
                        }
                    };
                    QObject::connect(sub, &Stream::readyRead, serve);
                    QObject::connect(sub, &Stream::priorityChanged,
                                     [&alicePriority](int p) { alicePriority = p; });
                    QObject::connect(sub, &Stream::readChannelFinished, [&, sub, serve] {
                        serve();
                        if (sub->property("kind").toChar() == 'T') {
                            sub->write(aliceHash.result()); // the digest alice computed, back to bob
                            sub->shutdown();
                        }
                    });
                    serve();
                }
            });
        }
    });

    // ---- handshake
    std::printf("1. Secure handshake (bob knows alice's PeerId and address)\n");
    Stream ctl(&bob);
    QElapsedTimer hs;
    hs.start();
    ctl.connectTo(alice.peerId(), "demo", "1", QHostAddress::LocalHost, alice.localPort());
    spinUntil([&] { return ctl.state() == Stream::State::Connected || ctl.state() == Stream::State::Closed; },
              10000);
    const double handshakeMs = msSince(hs);
    if (!check(ctl.state() == Stream::State::Connected,
               QString("connected in %1 ms").arg(handshakeMs, 0, 'f', 3)))
        return 1;
    spinUntil([&] { return !aliceCtl.isNull(); }, 5000);
    const QList<sss::ChannelInfo> bc = bob.channels();
    check(!bc.isEmpty() && bc.first().peerId == alice.peerId(), "bob's channel authenticates alice's PeerId");
    check(!alice.channels().isEmpty() && alice.channels().first().peerId == bob.peerId(),
          "alice learned bob's PeerId from the handshake (never sent in clear)");
    std::printf("  cipher: %s\n\n", bc.isEmpty() ? "?" : qPrintable(bc.first().cipher));

    // ---- 32 MiB transfer
    std::printf("2. Transfer of %lld MiB on a substream, SHA-256 checked at both ends\n",
                kTransferBytes >> 20);
    QByteArray data(kTransferBytes, Qt::Uninitialized);
    QRandomGenerator::global()->fillRange(reinterpret_cast<quint32 *>(data.data()), data.size() / 4);
    const QByteArray bobDigest = QCryptographicHash::hash(data, QCryptographicHash::Sha256);
    Stream *transfer = ctl.openSubstream();
    QElapsedTimer tt;
    tt.start();
    transfer->write("T", 1);
    qint64 offset = 0;
    auto pump = [&] {
        while (offset < data.size()) {
            const qint64 n = transfer->write(data.constData() + offset,
                                             std::min<qint64>(256 * 1024, data.size() - offset));
            if (n <= 0)
                return;
            offset += n;
        }
        if (offset == data.size() && transfer->property("fin").isNull()) {
            transfer->setProperty("fin", true);
            transfer->shutdown();
        }
    };
    QObject::connect(transfer, &Stream::bytesWritten, pump);
    pump();
    QByteArray echoedDigest;
    QObject::connect(transfer, &Stream::readyRead, [&] { echoedDigest += transfer->readAll(); });
    spinUntil([&] { return echoedDigest.size() >= 32 || transfer->state() == Stream::State::Closed; },
              120000);
    echoedDigest += transfer->readAll();
    const double secs = double(tt.nsecsElapsed()) / 1e9;
    std::printf("  %lld bytes in %.3f s: goodput %.3f Gbit/s (%.1f MiB/s)\n", aliceReceived, secs,
                double(aliceReceived) * 8 / secs / 1e9, double(aliceReceived) / secs / 1048576);
    std::printf("  sha256 at bob  : %s\n  sha256 at alice: %s\n", bobDigest.toHex().constData(),
                echoedDigest.toHex().constData());
    check(aliceReceived == kTransferBytes, "alice received every byte");
    check(echoedDigest == bobDigest, "digests match at both ends");
    delete transfer;
    std::printf("\n");

    // ---- substream request/responses
    std::printf("3. Request/response on fresh substreams (each opened without a round trip)\n");
    for (int i = 1; i <= 5; ++i) {
        QElapsedTimer rt;
        rt.start();
        Stream *req = ctl.openSubstream();
        const QByteArray q = "R" + QByteArray("request #") + QByteArray::number(i) + "\n";
        req->write(q);
        req->shutdown();
        QByteArray answer;
        spinUntil(
            [&] {
                answer += req->readAll();
                return answer.endsWith('\n') || req->state() == Stream::State::Closed;
            },
            5000);
        std::printf("  bob -> alice: %-12s  alice -> bob: %-28s %.0f us\n", q.mid(1).trimmed().constData(),
                    answer.trimmed().constData(), double(rt.nsecsElapsed()) / 1e3);
        check(answer.trimmed() == "response to 'request #" + QByteArray::number(i) + "'", "answer matches");
        delete req;
    }
    std::printf("\n");

    // ---- datagram
    std::printf("4. A best-effort datagram on the top-level stream\n");
    const QByteArray dg = "hello alice, this is a datagram ("
        + QByteArray::number(QRandomGenerator::global()->generate()) + ")";
    ctl.writeDatagram(dg);
    spinUntil([&] { return !aliceDatagram.isEmpty(); }, 3000);
    std::printf("  alice got: \"%s\"\n", aliceDatagram.constData());
    check(aliceDatagram == dg, "datagram delivered whole");
    std::printf("\n");

    // ---- priority change
    std::printf("5. Priority change on a substream (sent to the peer, latest value wins)\n");
    Stream *prio = ctl.openSubstream();
    prio->write("P", 1);
    spinUntil([&] { return !alicePrioStream.isNull(); }, 3000);
    std::printf("  substream open at priority %d (bob) / %d (alice)\n", prio->priority(), alicePriority);
    prio->setPriority(7);
    spinUntil([&] { return alicePriority == 7; }, 3000);
    std::printf("  bob set priority 7; alice's end of the substream now has priority %d\n", alicePriority);
    check(alicePriority == 7, "priority change reached the peer");
    delete prio;
    std::printf("\n");

    // Let the last acknowledgements settle so the statistics are quiet.
    spinUntil([] { return false; }, 100);
    std::printf("6. Channel statistics\n");
    printChannel("bob  ", bob);
    printChannel("alice", alice);
    std::printf("\n");

    ctl.close();
    std::printf(failures == 0 ? "All checks passed.\n" : "%d check(s) FAILED.\n", failures);
    return failures == 0 ? 0 : 1;
}
