// Echo behaviour shared by the in-process server and sss-test-peer: bytes, messages, datagrams and
// substreams (each substream echoes too).
#pragma once

#include <sss/stream.h>

inline void sssTestEcho(sss::Stream *s)
{
    using sss::Stream;
    s->listen(Stream::ListenMode::AcceptSubstreams);
    QObject::connect(s, &QIODevice::readyRead, s, [s] {
        if (!s->hasPendingMessages())
            s->write(s->readAll());
    });
    QObject::connect(s, &Stream::readyReadMessage, s, [s] {
        while (s->hasPendingMessages())
            s->writeMessage(s->readMessage());
    });
    QObject::connect(s, &Stream::readyReadDatagram, s, [s] {
        while (s->hasPendingDatagrams())
            s->writeDatagram(s->readDatagram());
    });
    QObject::connect(s, &QIODevice::readChannelFinished, s,
                     [s] { s->shutdown(Stream::ShutdownMode::Write); });
    QObject::connect(s, &Stream::newSubstream, s, [s] {
        while (Stream *sub = s->acceptSubstream())
            sssTestEcho(sub);
    });
}
