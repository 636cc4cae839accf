// Helpers shared by the tests that run sss-test-peer in a second process (tst_net_api, tst_net_pmtu):
// starting it and reading its "<PeerId> <port>" line, and a byte pattern for checked transfers.
#pragma once

#include <QElapsedTimer>
#include <QProcess>
#include <sss/peerid.h>

namespace sss::test {

inline QByteArray pattern(qsizetype n)
{
    QByteArray b(n, Qt::Uninitialized);
    for (qsizetype i = 0; i < n; ++i)
        b[i] = char((i * 31 + (i >> 9)) & 0xff);
    return b;
}

// Starts `program args` in `peer` and waits (10 s at most) for the line sss-test-peer prints first.
// Returns an empty string and sets id and port, or says what went wrong.
inline QString startTestPeer(QProcess &peer, const QString &program, const QStringList &args, PeerId *id,
                             quint16 *port)
{
    peer.setProgram(program);
    peer.setArguments(args);
    peer.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    peer.start();
    if (!peer.waitForStarted(5000))
        return peer.errorString();
    QByteArray line;
    QElapsedTimer t;
    t.start();
    while (!line.contains('\n') && t.elapsed() < 10000 && peer.state() == QProcess::Running) {
        peer.waitForReadyRead(500);
        line += peer.readAllStandardOutput();
    }
    const QList<QByteArray> parts = line.trimmed().split(' ');
    if (parts.size() != 2)
        return QStringLiteral("unexpected first line from the peer: \"%1\"").arg(QString::fromLatin1(line));
    *id = PeerId::fromString(QString::fromLatin1(parts[0]));
    *port = quint16(parts[1].toUInt());
    if (id->isNull() || *port == 0)
        return QStringLiteral("bad PeerId or port from the peer: \"%1\"").arg(QString::fromLatin1(line));
    return {};
}

} // namespace sss::test
