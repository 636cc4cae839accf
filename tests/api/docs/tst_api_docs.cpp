// The examples of docs/api.md, compiled and run on the simulator (virtual time) so the guide stays
// honest. Every block between "//! [name]" markers is copied verbatim into docs/api.md under
// "<!-- snippet: name -->"; docSnippetsMatchSource() fails when the two drift apart.
#include "sim/network.h"
#include "sim/simulator.h"
#include "sim/testsupport.h"
#include "simqt/attach.h"

#include <QBuffer>
#include <QFile>
#include <QHash>
#include <QPointer>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>
#include <functional>
#include <map>
#include <memory>
#include <sss/sss.h>

using namespace std::chrono_literals;

namespace {

// Two hosts on a simulated 100 Mbit/s path with 10 ms one-way delay (client 10.0.0.1, server
// 10.0.0.2:4000). The snippets below see plain sss::Host references named `client` and `host`.
struct World {
    explicit World(quint64 seed, const sss::HostConfig &cfg = {}) : sim(seed), net(sim)
    {
        sss::sim::LinkParams p;
        p.bitsPerSecond = 100e6;
        p.delay = 10ms;
        net.setDefaultLink(p);
        a = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
        b = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
        client = std::make_unique<sss::Host>();
        server = std::make_unique<sss::Host>();
        client->setConfig(cfg);
        server->setConfig(cfg);
        ok = sss::sim::attachHost(server.get(), b, 4000) && sss::sim::attachHost(client.get(), a, 0);
    }
    ~World()
    {
        client.reset(); // hosts before the simulator they run on
        server.reset();
    }
    bool run(const std::function<bool()> &done, sss::core::Duration limit = 20s)
    {
        return sim.runUntil(done, limit);
    }

    sss::sim::Simulator sim;
    sss::sim::Network net;
    sss::sim::Host *a = nullptr, *b = nullptr;
    std::unique_ptr<sss::Host> client, server;
    bool ok = false;
};

QByteArray pattern(qsizetype n, int salt = 0)
{
    QByteArray b(n, Qt::Uninitialized);
    for (qsizetype i = 0; i < n; ++i)
        b[i] = char((i * 131 + salt * 7 + (i >> 8)) & 0xff);
    return b;
}

QByteArray answer(const QByteArray &query)
{
    return "answer to " + query;
}

// ---- snippets that are whole functions

//! [echo-server]
// Accept every connection to ("echo", "v1") and send back whatever arrives.
void startEchoServer(sss::Host &host)
{
    auto *server = new sss::Server(&host, &host);
    if (!server->listen(QStringLiteral("echo"), QStringLiteral("v1")))
        qWarning() << "listen failed:" << server->errorString();
    QObject::connect(server, &sss::Server::newConnection, server, [server] {
        while (sss::Stream *stream = server->nextPendingConnection()) {
            QObject::connect(stream, &QIODevice::readyRead, stream,
                             [stream] { stream->write(stream->readAll()); });
            // The peer finished sending: finish too once the echo is out, then forget the stream.
            QObject::connect(stream, &QIODevice::readChannelFinished, stream, [stream] {
                stream->write(stream->readAll());
                stream->deleteLater(); // graceful: queued bytes are still delivered
            });
        }
    });
}
//! [echo-server]

//! [request-server]
// One request per substream: the answer goes back on the same substream, which then closes.
void startRequestServer(sss::Host &host)
{
    auto *server = new sss::Server(&host, &host);
    server->listen(QStringLiteral("items"), QStringLiteral("v1"));
    QObject::connect(server, &sss::Server::newConnection, server, [server] {
        while (sss::Stream *session = server->nextPendingConnection()) {
            session->listen(sss::Stream::ListenMode::AcceptSubstreams);
            QObject::connect(session, &sss::Stream::newSubstream, session, [session] {
                while (sss::Stream *request = session->acceptSubstream()) {
                    QObject::connect(request, &sss::Stream::readyReadMessage, request, [request] {
                        request->writeMessage(answer(request->readMessage()));
                        request->deleteLater(); // graceful close: the answer is still delivered
                    });
                }
            });
        }
    });
}
//! [request-server]

//! [transaction-server]
// The same service with transactions: each request arrives whole in requestReceived(), and its
// answer goes back with sendReply(). No Stream object per request, no connection per request.
void startTransactionServer(sss::Host &host)
{
    auto *server = new sss::Server(&host, &host);
    server->listen(QStringLiteral("items"), QStringLiteral("v2"));
    QObject::connect(server, &sss::Server::newConnection, server, [server] {
        while (sss::Stream *session = server->nextPendingConnection()) {
            session->listen(sss::Stream::ListenMode::AcceptRequests);
            QObject::connect(session, &sss::Stream::requestReceived, session,
                             [session](quint64 id, const QByteArray &request) {
                                 session->sendReply(id, answer(request));
                             });
        }
    });
}
//! [transaction-server]

//! [flow-control]
// Streams a large source without loading it: keep about 1 MiB unacknowledged, top up on every
// acknowledgement. write() never blocks; it refuses what exceeds HostConfig::maxSendBufferPerStream.
void sendFile(sss::Stream *stream, QIODevice *source)
{
    auto connection = std::make_shared<QMetaObject::Connection>();
    auto pump = [stream, source, connection] {
        while (stream->bytesToWrite() < 1024 * 1024 && !source->atEnd()) {
            const qint64 n = stream->write(source->peek(64 * 1024));
            if (n <= 0)
                return; // 0: send buffer full, wait for bytesWritten(); -1: failed, see errorOccurred()
            source->skip(n);
        }
        if (source->atEnd()) {
            QObject::disconnect(*connection);
            stream->shutdown(sss::Stream::ShutdownMode::Write); // end of data after the queued bytes
        }
    };
    *connection = QObject::connect(stream, &QIODevice::bytesWritten, stream, pump);
    pump();
}
//! [flow-control]

//! [control-server]
// Serves large downloads, one per substream ("get <n>"), and obeys a control substream
// ("prio <n> <priority>", "cancel <n>") that steers downloads already in progress.
void startDownloadServer(sss::Host &host)
{
    auto *server = new sss::Server(&host, &host);
    server->listen(QStringLiteral("files"), QStringLiteral("v1"));
    QObject::connect(server, &sss::Server::newConnection, server, [server] {
        while (sss::Stream *session = server->nextPendingConnection()) {
            auto *downloads = new QHash<int, QPointer<sss::Stream>>;
            QObject::connect(session, &QObject::destroyed, [downloads] { delete downloads; });
            session->listen();
            QObject::connect(session, &sss::Stream::newSubstream, session, [session, downloads] {
                while (sss::Stream *sub = session->acceptSubstream()) {
                    QObject::connect(sub, &sss::Stream::readyReadMessage, sub, [sub, downloads] {
                        while (sub->hasPendingMessages()) {
                            const QList<QByteArray> cmd = sub->readMessage().split(' ');
                            const int n = cmd.value(1).toInt();
                            if (cmd[0] == "get") {
                                downloads->insert(n, sub);
                                auto *file = new QBuffer(sub); // stands for a QFile
                                file->setData(QByteArray(4 * 1024 * 1024, char('a' + n % 26)));
                                file->open(QIODevice::ReadOnly);
                                sendFile(sub, file); // see "Flow control" below
                            } else if (cmd[0] == "prio" && downloads->value(n)) {
                                downloads->value(n)->setPriority(cmd.value(2).toInt());
                            } else if (cmd[0] == "cancel" && downloads->value(n)) {
                                downloads->value(n)
                                    ->reset(); // both ends discard; the client sees ResetByPeer
                            }
                        }
                    });
                }
            });
        }
    });
}
//! [control-server]

// Extracts "//! [name]" blocks of this file, dedented.
QMap<QString, QString> sourceSnippets(const QString &text)
{
    QMap<QString, QString> out;
    static const QRegularExpression marker(QStringLiteral(R"(^\s*//! \[([a-z0-9-]+)\]\s*$)"));
    const QStringList lines = text.split(u'\n');
    QString open;
    QStringList body;
    for (const QString &line : lines) {
        const auto m = marker.match(line);
        if (m.hasMatch()) {
            if (open.isEmpty()) {
                open = m.captured(1);
                body.clear();
            } else {
                qsizetype indent = 1000;
                for (const QString &l : std::as_const(body)) {
                    qsizetype n = 0;
                    while (n < l.size() && l[n] == u' ')
                        ++n;
                    if (n < l.size())
                        indent = std::min(indent, n);
                }
                QStringList dedented;
                for (const QString &l : std::as_const(body))
                    dedented.append(l.trimmed().isEmpty() ? QString() : l.mid(indent));
                out.insert(open, dedented.join(u'\n'));
                open.clear();
            }
        } else if (!open.isEmpty()) {
            body.append(line);
        }
    }
    return out;
}

// Extracts the ```cpp blocks that follow "<!-- snippet: name -->" lines of a Markdown file.
QMap<QString, QString> markdownSnippets(const QString &text, QStringList *duplicates)
{
    QMap<QString, QString> out;
    static const QRegularExpression marker(QStringLiteral(R"(^<!-- snippet: ([a-z0-9-]+) -->$)"));
    const QStringList lines = text.split(u'\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const auto m = marker.match(lines[i]);
        if (!m.hasMatch())
            continue;
        if (i + 1 >= lines.size() || lines[i + 1] != QStringLiteral("```cpp"))
            continue;
        QStringList body;
        qsizetype j = i + 2;
        for (; j < lines.size() && lines[j] != QStringLiteral("```"); ++j)
            body.append(lines[j]);
        if (out.contains(m.captured(1)))
            duplicates->append(m.captured(1));
        out.insert(m.captured(1), body.join(u'\n'));
        i = j;
    }
    return out;
}

} // namespace

class TestApiDocs : public QObject
{
    Q_OBJECT
    quint64 seed() const { return sss::sim::testSeeds(1).first(); }

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void docSnippetsMatchSource()
    {
        QFile src(QStringLiteral(SSS_DOCS_TEST_SOURCE)), md(QStringLiteral(SSS_DOCS_API_MD));
        QVERIFY2(src.open(QIODevice::ReadOnly), qPrintable(src.fileName()));
        QVERIFY2(md.open(QIODevice::ReadOnly), qPrintable(md.fileName()));
        const auto fromSource = sourceSnippets(QString::fromUtf8(src.readAll()));
        QStringList duplicates;
        const auto fromDoc = markdownSnippets(QString::fromUtf8(md.readAll()), &duplicates);
        QVERIFY(fromSource.size() >= 10);
        QVERIFY2(duplicates.isEmpty(), qPrintable(duplicates.join(u',')));
        for (auto it = fromSource.cbegin(); it != fromSource.cend(); ++it) {
            QVERIFY2(fromDoc.contains(it.key()),
                     qPrintable(QStringLiteral("api.md lacks snippet ") + it.key()));
            QCOMPARE(fromDoc.value(it.key()), it.value());
        }
        for (auto it = fromDoc.cbegin(); it != fromDoc.cend(); ++it)
            QVERIFY2(fromSource.contains(it.key()),
                     qPrintable(QStringLiteral("api.md snippet without source: ") + it.key()));
    }

    void identityAndHost()
    {
        QFile::remove(sss::Identity::defaultPath());
        {
            //! [identity]
            // A stable identity: load it from the default location, or create and save it once.
            const QString path = sss::Identity::defaultPath(); // <AppDataLocation>/identity.key
            sss::Identity identity = sss::Identity::load(path);
            if (identity.isNull()) {
                identity = sss::Identity::generate();
                QString error;
                if (!identity.save(path, &error)) // written atomically, mode 0600
                    qWarning() << "cannot save the identity:" << error;
            }
            sss::Host host;
            host.setIdentity(identity); // before bind()
            if (!host.bind(QHostAddress::LocalHost, 0)) // 0: any free UDP port
                qWarning() << "bind failed:" << host.errorString();
            // Peers address this host by its PeerId (its public key) plus an address and port.
            const QString shareable = host.peerId().toString(); // 43 characters, base64url
            const sss::PeerId parsed = sss::PeerId::fromString(shareable);
            //! [identity]
            QVERIFY(host.isBound());
            QVERIFY(host.localPort() != 0);
            QCOMPARE(parsed, identity.peerId());
            QCOMPARE(shareable.size(), 43);
            QVERIFY(!path.isEmpty());
            // Saved, so the next run gets the same PeerId.
            QCOMPARE(sss::Identity::load(path), identity);
            QVERIFY(!host.setIdentity(sss::Identity::generate())); // too late: bound
            host.close();
        }
        QFile::remove(sss::Identity::defaultPath());
    }

    void configBeforeBind()
    {
        sss::Host host;
        //! [config]
        sss::HostConfig config;
        config.idleTimeout = std::chrono::seconds(10); // a silent channel is dropped after this
        config.keepAliveInterval = std::chrono::seconds(2);
        config.sessionLinger = std::chrono::seconds(120); // streams wait this long for a new channel
        config.initialStreamWindow = 1024 * 1024; // receive window of a new stream
        config.maxIncomingStreams = 10000; // concurrent streams a peer may open
        host.setConfig(config); // applies at the next bind()
        //! [config]
        QCOMPARE(host.config().idleTimeout, 10s);
        QCOMPARE(host.config().maxIncomingStreams, quint64(10000));
    }

    void echo()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        QVERIFY(w.ok);
        startEchoServer(*w.server);
        sss::Host &client = *w.client;
        const sss::PeerId serverId = w.server->peerId();
        const QHostAddress serverAddress = w.b->address();
        const quint16 serverPort = 4000;
        //! [echo-client]
        auto *stream = new sss::Stream(&client, &client);
        stream->connectTo(serverId, QStringLiteral("echo"), QStringLiteral("v1"), serverAddress, serverPort);
        stream->write("hello"); // writable at once: sent as soon as the secure channel is up
        QByteArray reply;
        QObject::connect(stream, &QIODevice::readyRead, stream,
                         [&reply, stream] { reply += stream->readAll(); });
        QObject::connect(stream, &sss::Stream::errorOccurred, stream, [stream](sss::Stream::Error error) {
            qWarning() << "echo failed:" << error << stream->errorString();
        });
        //! [echo-client]
        QCOMPARE(stream->state(), sss::Stream::State::Connecting);
        QVERIFY(w.run([&] { return reply == "hello"; }));
        QCOMPARE(stream->state(), sss::Stream::State::Connected);
        // Finishing our side makes the echo server finish too: the stream closes at both ends.
        QSignalSpy disconnected(stream, &sss::Stream::disconnected);
        stream->shutdown(sss::Stream::ShutdownMode::Write);
        QVERIFY(w.run([&] { return stream->state() == sss::Stream::State::Closed; }));
        QCOMPARE(disconnected.count(), 1);
        QCOMPARE(stream->error(), sss::Stream::Error::NoError);
    }

    void requestResponse()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        startRequestServer(*w.server);
        auto *session = new sss::Stream(w.client.get(), w.client.get());
        QVERIFY(session->connectTo(w.server->peerId(), QStringLiteral("items"), QStringLiteral("v1"),
                                   w.b->address(), 4000));
        //! [request-client]
        // Many requests at once, each on its own substream: none waits behind another.
        std::map<int, QByteArray> answers;
        for (int i = 0; i < 100; ++i) {
            sss::Stream *request = session->openSubstream(); // no round trip
            request->writeMessage("GET /items/" + QByteArray::number(i));
            request->shutdown(sss::Stream::ShutdownMode::Write); // that is the whole request
            QObject::connect(request, &sss::Stream::readyReadMessage, request, [request, i, &answers] {
                answers[i] = request->readMessage();
                request->deleteLater();
            });
        }
        //! [request-client]
        QVERIFY(w.run([&] { return answers.size() == 100; }));
        for (int i = 0; i < 100; ++i)
            QCOMPARE(answers[i], "answer to GET /items/" + QByteArray::number(i));
        // 100 transactions in parallel: a couple of round trips (20 ms each), not 100.
        QVERIFY2(w.sim.elapsed() < 200ms, qPrintable(QString::number(sss::core::toSeconds(w.sim.elapsed()))));
    }

    void transactions()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        startTransactionServer(*w.server);
        auto *session = new sss::Stream(w.client.get(), w.client.get());
        QVERIFY(session->connectTo(w.server->peerId(), QStringLiteral("items"), QStringLiteral("v2"),
                                   w.b->address(), 4000));
        //! [transaction-client]
        // 100 requests at once, each on a fresh substream; replies come back by id, in any order.
        std::map<quint64, int> pending;
        std::map<int, QByteArray> answers;
        for (int i = 0; i < 100; ++i)
            pending[session->sendRequest("GET /items/" + QByteArray::number(i))] = i;
        QObject::connect(session, &sss::Stream::replyReceived, session,
                         [&](quint64 id, const QByteArray &reply) { answers[pending[id]] = reply; });
        QObject::connect(session, &sss::Stream::requestFailed, session, [](quint64 id, sss::Stream::Error e) {
            qWarning() << "request" << id << "failed:" << e;
        });
        //! [transaction-client]
        QVERIFY(w.run([&] { return answers.size() == 100; }));
        for (int i = 0; i < 100; ++i)
            QCOMPARE(answers[i], "answer to GET /items/" + QByteArray::number(i));
        QVERIFY(w.sim.elapsed() < 200ms); // in parallel, like the Stream substreams
        QVERIFY(session->findChildren<sss::Stream *>().isEmpty());
    }

    void controlSubstream()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        startDownloadServer(*w.server);
        auto *session = new sss::Stream(w.client.get(), w.client.get());
        QVERIFY(session->connectTo(w.server->peerId(), QStringLiteral("files"), QStringLiteral("v1"),
                                   w.b->address(), 4000));
        QHash<int, qint64> received;
        QHash<int, bool> finished;
        QList<sss::Stream *> downloads;
        for (int n = 0; n < 3; ++n) {
            sss::Stream *d = session->openSubstream();
            d->writeMessage("get " + QByteArray::number(n));
            QObject::connect(d, &QIODevice::readyRead, d, [&, d, n] { received[n] += d->readAll().size(); });
            QObject::connect(d, &QIODevice::readChannelFinished, d, [&, d, n] {
                received[n] += d->readAll().size();
                finished[n] = true;
            });
            downloads.append(d);
        }
        QVERIFY(w.run([&] { return received.value(0) > 100000 && received.value(2) > 100000; }));
        QSignalSpy prio2(downloads[2], &sss::Stream::priorityChanged);
        QSignalSpy errors1(downloads[1], &sss::Stream::errorOccurred);
        //! [control-client]
        // Steer downloads already in flight through a control substream of the same session.
        sss::Stream *control = session->openSubstream();
        control->setPriority(100); // control messages overtake bulk data
        control->writeMessage("prio 2 10"); // download 2 first
        control->writeMessage("cancel 1"); // download 1 no longer wanted
        //! [control-client]
        QVERIFY(w.run([&] { return errors1.count() > 0 && prio2.count() > 0; }));
        QCOMPARE(downloads[1]->error(), sss::Stream::Error::ResetByPeer);
        QCOMPARE(downloads[2]->priority(), 10);
        // Waits for the bytes, not only readChannelFinished(): the core reports the peer's FIN as soon
        // as the FIN frame arrives, possibly before data it overtook (see the scenario test
        // finishedOnlyAfterAllData).
        QVERIFY(w.run([&] { return finished.value(2) && received[2] == 4 * 1024 * 1024; }, 30s));
        QVERIFY2(received[0] < 4 * 1024 * 1024, "download 2 was raised above 0: it finishes first");
        QVERIFY(w.run([&] { return finished.value(0) && received[0] == 4 * 1024 * 1024; }, 30s));
        QVERIFY(received[1] < 4 * 1024 * 1024);
    }

    void priorities()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        QList<sss::Stream *> accepted;
        sss::Server server(w.server.get());
        server.listen(QStringLiteral("media"), QStringLiteral("v1"));
        QObject::connect(&server, &sss::Server::newConnection, &server, [&] {
            while (sss::Stream *s = server.nextPendingConnection()) {
                QObject::connect(s, &sss::Stream::newSubstream, s, [&, s] {
                    while (sss::Stream *sub = s->acceptSubstream())
                        accepted.append(sub);
                });
            }
        });
        auto *session = new sss::Stream(w.client.get(), w.client.get());
        QVERIFY(session->connectTo(w.server->peerId(), QStringLiteral("media"), QStringLiteral("v1"),
                                   w.b->address(), 4000));
        //! [priorities]
        sss::Stream *video = session->openSubstream();
        sss::Stream *audio = session->openSubstream();
        sss::Stream *thumbnails = session->openSubstream();
        audio->setPriority(20); // higher value is served first
        video->setPriority(10);
        thumbnails->setPriority(-5); // only what audio and video leave over
        //! [priorities]
        video->write("v");
        audio->write("a");
        thumbnails->write("t");
        QVERIFY(w.run([&] {
            return accepted.size() == 3
                && std::all_of(accepted.cbegin(), accepted.cend(),
                               [](sss::Stream *s) { return s->bytesAvailable() > 0; });
        }));
        for (sss::Stream *sub : std::as_const(accepted)) {
            const QByteArray tag = sub->peek(1);
            QCOMPARE(sub->priority(), tag == "a" ? 20 : tag == "v" ? 10 : -5);
        }
        sss::Stream *peerThumbnails = nullptr;
        for (sss::Stream *sub : std::as_const(accepted))
            if (sub->peek(1) == "t")
                peerThumbnails = sub;
        QVERIFY(peerThumbnails);
        QSignalSpy changed(thumbnails, &sss::Stream::priorityChanged);
        //! [priority-receiver]
        // The receiving end may change it too (the user scrolled to the thumbnails): both
        // directions of the stream follow the latest value, within about one round trip.
        peerThumbnails->setPriority(30);
        //! [priority-receiver]
        QVERIFY(w.run([&] { return changed.count() > 0; }));
        QCOMPARE(thumbnails->priority(), 30);
    }

    void messages()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        sss::Server chat(w.server.get());
        chat.listen(QStringLiteral("chat"), QStringLiteral("v1"));
        QList<QByteArray> serverGot;
        QObject::connect(&chat, &sss::Server::newConnection, &chat, [&] {
            while (sss::Stream *stream = chat.nextPendingConnection()) {
                //! [messages-read]
                QObject::connect(stream, &sss::Stream::readyReadMessage, stream, [stream, &serverGot] {
                    while (stream->hasPendingMessages())
                        serverGot.append(stream->readMessage()); // always one whole message
                });
                //! [messages-read]
            }
        });
        auto *stream = new sss::Stream(w.client.get(), w.client.get());
        QVERIFY(stream->connectTo(w.server->peerId(), QStringLiteral("chat"), QStringLiteral("v1"),
                                  w.b->address(), 4000));
        //! [messages-write]
        stream->writeMessage("hello");
        stream->writeMessage(QByteArray(100000, 'x')); // any size; accepted whole or not at all
        //! [messages-write]
        QVERIFY(w.run([&] { return serverGot.size() == 2; }));
        QCOMPARE(serverGot[0], QByteArray("hello"));
        QCOMPARE(serverGot[1], QByteArray(100000, 'x'));
    }

    void datagrams()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        sss::Server server(w.server.get());
        server.listen(QStringLiteral("game"), QStringLiteral("v1"));
        QList<QByteArray> got;
        QObject::connect(&server, &sss::Server::newConnection, &server, [&] {
            while (sss::Stream *peer = server.nextPendingConnection()) {
                //! [datagrams-read]
                QObject::connect(peer, &sss::Stream::readyReadDatagram, peer, [peer, &got] {
                    while (peer->hasPendingDatagrams())
                        got.append(peer->readDatagram()); // whole, exactly as sent
                });
                //! [datagrams-read]
            }
        });
        auto *stream = new sss::Stream(w.client.get(), w.client.get());
        QVERIFY(stream->connectTo(w.server->peerId(), QStringLiteral("game"), QStringLiteral("v1"),
                                  w.b->address(), 4000));
        stream->write("join");
        QVERIFY(w.run([&] { return stream->state() == sss::Stream::State::Connected; }));
        const QByteArray position = pattern(40, 1), snapshot = pattern(2 * 1024 * 1024, 2),
                         command = pattern(10, 3), stale = pattern(30, 4);
        //! [datagrams-write]
        stream->writeDatagram(position); // best effort: may be lost, never partial or duplicated
        stream->writeDatagram(snapshot); // above 16 KiB: fragmented and sent reliably, delivered whole
        sss::DatagramOptions reliable;
        reliable.reliable = true; // retransmitted until acknowledged, whatever the size
        stream->writeDatagram(command, reliable);
        // Worthless if late: dropped instead of sent after 100 ms (also if it is still retransmitting).
        stream->writeDatagram(stale, sss::DatagramOptions::expiringIn(100));
        //! [datagrams-write]
        QVERIFY(w.run([&] { return got.size() == 4; }));
        QVERIFY(got.contains(position) && got.contains(snapshot) && got.contains(command)
                && got.contains(stale));
        // An already expired datagram is never sent.
        QVERIFY(stream->writeDatagram(stale, sss::DatagramOptions::expiringIn(0)));
        w.sim.runFor(1s);
        QCOMPARE(got.size(), 4);
    }

    void flowControl()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        sss::Server server(w.server.get());
        server.listen(QStringLiteral("upload"), QStringLiteral("v1"));
        QByteArray got;
        bool done = false;
        QObject::connect(&server, &sss::Server::newConnection, &server, [&] {
            while (sss::Stream *peer = server.nextPendingConnection()) {
                QObject::connect(peer, &QIODevice::readyRead, peer, [&, peer] { got += peer->readAll(); });
                QObject::connect(peer, &QIODevice::readChannelFinished, peer, [&] { done = true; });
            }
        });
        const QByteArray data = pattern(20 * 1024 * 1024, 5);
        QBuffer file;
        file.setData(data);
        file.open(QIODevice::ReadOnly);
        auto *stream = new sss::Stream(w.client.get(), w.client.get());
        QVERIFY(stream->connectTo(w.server->peerId(), QStringLiteral("upload"), QStringLiteral("v1"),
                                  w.b->address(), 4000));
        sendFile(stream, &file);
        qint64 maxQueued = stream->bytesToWrite();
        // Connected after sendFile()'s own slot: sees the queue after each top-up.
        QObject::connect(stream, &QIODevice::bytesWritten, stream,
                         [&] { maxQueued = std::max(maxQueued, stream->bytesToWrite()); });
        QVERIFY(w.run([&] { return done; }, 60s));
        QCOMPARE(got.size(), data.size());
        QVERIFY(got == data);
        // The sender never held much more than the 1 MiB it aimed for (plus one 64 KiB chunk).
        QVERIFY2(maxQueued <= 1024 * 1024 + 64 * 1024, qPrintable(QString::number(maxQueued)));
    }

    void closing()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        sss::Server server(w.server.get());
        server.listen(QStringLiteral("close"), QStringLiteral("v1"));
        QList<QPointer<sss::Stream>> peers;
        QHash<sss::Stream *, QByteArray> got;
        QHash<sss::Stream *, bool> fin;
        QObject::connect(&server, &sss::Server::newConnection, &server, [&] {
            while (sss::Stream *peer = server.nextPendingConnection()) {
                peers.append(peer);
                QObject::connect(peer, &QIODevice::readyRead, peer,
                                 [&, peer] { got[peer] += peer->readAll(); });
                QObject::connect(peer, &QIODevice::readChannelFinished, peer,
                                 [&, peer] { fin[peer] = true; });
            }
        });
        auto open = [&] {
            auto *s = new sss::Stream(w.client.get(), w.client.get());
            s->connectTo(w.server->peerId(), QStringLiteral("close"), QStringLiteral("v1"), w.b->address(),
                         4000);
            return s;
        };
        sss::Stream *stream = open();
        stream->write("request");
        //! [shutdown]
        // "I have nothing more to send": the peer reads everything, then readChannelFinished().
        // This end can still read the peer's answer.
        stream->shutdown(sss::Stream::ShutdownMode::Write);
        //! [shutdown]
        QVERIFY(w.run([&] { return peers.size() == 1 && fin.value(peers[0]); }));
        QCOMPARE(got.value(peers[0]), QByteArray("request"));
        QCOMPARE(stream->state(), sss::Stream::State::Closing);
        peers[0]->write("reply");
        QByteArray reply;
        QObject::connect(stream, &QIODevice::readyRead, stream, [&] { reply += stream->readAll(); });
        QVERIFY(w.run([&] { return reply == "reply"; }));

        sss::Stream *aborted = open();
        aborted->write(pattern(500000));
        QVERIFY(w.run([&] { return peers.size() == 2; }));
        sss::Stream *abortedPeer = peers[1];
        QSignalSpy peerErrors(abortedPeer, &sss::Stream::errorOccurred);
        //! [reset]
        // Abort: unsent and unread data are discarded at both ends; the peer gets ResetByPeer.
        aborted->reset();
        //! [reset]
        QVERIFY(w.run([&] { return peerErrors.count() > 0; }));
        QCOMPARE(abortedPeer->error(), sss::Stream::Error::ResetByPeer);

        const QByteArray big = pattern(300000, 7);
        {
            sss::Stream *stream = open();
            stream->write(big);
            //! [delete]
            // Deleting (or deleteLater()) closes gracefully in the background: the queued bytes
            // are still delivered, then the peer sees the end of data.
            delete stream;
            //! [delete]
        }
        QVERIFY(w.run([&] { return peers.size() == 3 && fin.value(peers[2]); }, 30s));
        QCOMPARE(got.value(peers[2]), big);
    }

    void errorsAndLinkStatus()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        sss::Host &host = *w.client;
        QList<sss::Host::LinkStatus> statuses;
        //! [link-status]
        QObject::connect(&host, &sss::Host::linkStatusChanged, &host,
                         [&statuses](const sss::PeerId &peer, sss::Host::LinkStatus status) {
                             qDebug() << peer << "is now" << status; // Connecting, Up, Stalled, Down
                             statuses.append(status);
                         });
        //! [link-status]
        auto *stream = new sss::Stream(&host, &host);
        stream->connectTo(w.server->peerId(), QStringLiteral("nobody-listens"), QStringLiteral("v1"),
                          w.b->address(), 4000);
        QList<sss::Stream::Error> errors;
        //! [errors]
        QObject::connect(
            stream, &sss::Stream::errorOccurred, stream, [stream, &errors](sss::Stream::Error error) {
                if (error == sss::Stream::Error::ServiceNotFound)
                    qWarning() << "the peer does not offer this service:" << stream->errorString();
                errors.append(error);
            });
        //! [errors]
        QVERIFY(w.run([&] { return !errors.isEmpty(); }));
        QCOMPARE(errors.first(), sss::Stream::Error::ServiceNotFound);
        QCOMPARE(stream->state(), sss::Stream::State::Closed);
        QVERIFY(!stream->errorString().isEmpty());
        QVERIFY(statuses.contains(sss::Host::LinkStatus::Up));
        // Misuse is an error, never a crash.
        QCOMPARE(stream->write("x"), qint64(-1));
        QVERIFY(stream->error() != sss::Stream::Error::NoError);
    }

    void observability()
    {
        SSS_SEED_GUARD(seed());
        World w(seed());
        startEchoServer(*w.server);
        sss::Host &host = *w.client;
        QStringList trace;
        //! [tracing]
        host.setTracingEnabled(true); // qlog-style records, e.g. "transport:packet_sent"
        QObject::connect(
            &host, &sss::Host::traceEvent, &host,
            [&trace](const QString &name, const QString &detail) { trace.append(name + u' ' + detail); });
        //! [tracing]
        auto *stream = new sss::Stream(&host, &host);
        stream->connectTo(w.server->peerId(), QStringLiteral("echo"), QStringLiteral("v1"), w.b->address(),
                          4000);
        stream->write(pattern(100000));
        QVERIFY(w.run([&] { return stream->bytesAvailable() == 100000; }));
        QStringList report;
        //! [statistics]
        for (const sss::ChannelInfo &c : host.channels())
            report << QStringLiteral("%1 at %2:%3 srtt %4 us cwnd %5 B, %6 packets lost")
                          .arg(c.peerId.toString(), c.peerAddress.toString())
                          .arg(c.peerPort)
                          .arg(c.srtt.count())
                          .arg(c.congestionWindow)
                          .arg(c.packetsLost);
        for (const sss::StreamInfo &s : host.streams())
            report << QStringLiteral("stream %1 (parent %2) prio %3 %4: %5 B queued, %6 B readable")
                          .arg(s.id)
                          .arg(s.parentId)
                          .arg(s.priority)
                          .arg(s.state)
                          .arg(s.queuedBytes)
                          .arg(s.readableBytes);
        //! [statistics]
        QVERIFY(!trace.isEmpty());
        QCOMPARE(host.channels().size(), 1);
        QVERIFY(host.channels().first().srtt >= 20ms);
        QVERIFY(report.size() >= 2);
        QVERIFY2(report.first().startsWith(w.server->peerId().toString()), qPrintable(report.first()));
        QVERIFY(report.last().contains(QStringLiteral("100000 B readable")));
    }
};

QTEST_GUILESS_MAIN(TestApiDocs)
#include "tst_api_docs.moc"
