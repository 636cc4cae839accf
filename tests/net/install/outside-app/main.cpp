// Creates a Host, binds it to 127.0.0.1 and prints "<PeerId> <port>".
#include <QCoreApplication>
#include <cstdio>
#include <sss/sss.h>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    sss::Host host;
    if (!host.bind(QHostAddress::LocalHost, 0)) {
        std::fprintf(stderr, "bind failed: %s\n", qPrintable(host.errorString()));
        return 1;
    }
    sss::Server server(&host);
    if (!server.listen(QStringLiteral("hello"), QStringLiteral("v1")))
        return 2;
    std::printf("%s %u\n", qPrintable(host.peerId().toString()), unsigned(host.localPort()));
    return 0;
}
