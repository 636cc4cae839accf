// sss-test-peer: an SSS echo server for the two-process tests. Binds 127.0.0.1, or the address given
// as its one argument (any port), serves "echo"/"v1", prints "<PeerId> <port>" on one line and runs
// until stdin closes or it is killed.
#include "echo_p.h"

#include <QCoreApplication>
#include <QSocketNotifier>
#include <cstdio>
#include <sss/host.h>
#include <sss/server.h>
#include <sss/stream.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    sss::Host host;
    const QHostAddress address
        = argc > 1 ? QHostAddress(QString::fromLocal8Bit(argv[1])) : QHostAddress(QHostAddress::LocalHost);
    if (address.isNull()) {
        std::fprintf(stderr, "not an address: %s\n", argv[1]);
        return 2;
    }
    if (!host.bind(address, 0)) {
        std::fprintf(stderr, "bind failed: %s\n", qPrintable(host.errorString()));
        return 1;
    }
    sss::Server server(&host);
    if (!server.listen(QStringLiteral("echo"), QStringLiteral("v1"))) {
        std::fprintf(stderr, "listen failed: %s\n", qPrintable(server.errorString()));
        return 1;
    }
    QObject::connect(&server, &sss::Server::newConnection, &server, [&] {
        while (sss::Stream *s = server.nextPendingConnection())
            sssTestEcho(s);
    });
    std::printf("%s %u\n", qPrintable(host.peerId().toString()), unsigned(host.localPort()));
    std::fflush(stdout);
    // Quit when the parent closes our stdin (or dies).
    QSocketNotifier stdinWatch(STDIN_FILENO, QSocketNotifier::Read);
    QObject::connect(&stdinWatch, &QSocketNotifier::activated, &app, [&] {
        char buf[256];
        if (::read(STDIN_FILENO, buf, sizeof buf) <= 0)
            app.quit();
    });
    return app.exec();
}
