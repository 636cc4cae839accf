#pragma once

#include "host_p.h"

#include <QPointer>
#include <sss/stream.h>

namespace sss {

class StreamPrivate
{
    Q_DECLARE_PUBLIC(Stream)
public:
    StreamPrivate(Stream *q, Host *h) : q_ptr(q), host(h) { }

    static StreamPrivate *get(Stream *s) { return s->d_func(); }

    HostPrivate *hostPrivate() const { return HostPrivate::get(host.data()); }
    core::Endpoint *endpoint() const
    {
        HostPrivate *hp = hostPrivate();
        return hp ? hp->endpoint() : nullptr;
    }
    // The endpoint if this stream is attached to a live stream; otherwise sets a misuse error.
    core::Endpoint *usable(const char *operation);

    void attach(core::StreamHandle h, Stream::State initial);
    void detach(); // forgets the handle (core state gone or released)
    void setState(Stream::State s);
    void setError(Stream::Error e, const QString &text);
    void failFromCore(const char *operation);
    void updateClosedState();
    void hostGone(Stream::Error e, const QString &text, bool emitSignals);

    Stream *q_ptr;
    QPointer<Host> host;
    core::StreamHandle handle = 0;
    Stream::State state = Stream::State::Unconnected;
    Stream::Error error = Stream::Error::NoError;
    PeerId peer;
    int priority = 0;
    bool everAttached = false;
    bool writeShut = false;
    bool peerFinished = false;
};

QString errorText(Stream::Error e);

} // namespace sss
