package broker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/group"
)

// conn is one client connection. Its reader goroutine reads frames as they
// arrive (clients pipeline) into reqs; serve handles them one at a time and
// writes the responses in request order, as Kafka does.
type conn struct {
	s      *Server
	nc     net.Conn
	logger *slog.Logger

	reqs chan *request
	done chan struct{} // closed when serve stops handling

	stopOnce sync.Once
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		s:      s,
		nc:     nc,
		logger: s.logger.With("remote", nc.RemoteAddr().String()),
		reqs:   make(chan *request, 8),
		done:   make(chan struct{}),
	}
}

// stopReading makes the reader stop after the frame it is reading; requests
// already read are still answered.
func (c *conn) stopReading() {
	c.stopOnce.Do(func() { c.nc.SetReadDeadline(time.Now()) })
}

// serve runs the connection until the client leaves, a request is bad, or
// the server closes. It owns the reader goroutine and waits for it.
func (c *conn) serve() {
	var readerDone sync.WaitGroup
	readerDone.Add(1)
	go func() {
		defer readerDone.Done()
		c.readLoop()
	}()
	defer func() {
		close(c.done)
		c.nc.Close()
		readerDone.Wait()
	}()

	w := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	for req := range c.reqs {
		resp, err := c.handle(req)
		if err != nil {
			c.logger.Warn("closing connection: handling request failed", "api", kmsg.NameForKey(req.key), "version", req.version, "err", err)
			return
		}
		if resp == nil {
			continue // acks=0 produce: no response
		}
		buf = appendResponse(buf[:0], req.correlationID, resp)
		if fr, ok := resp.(*kmsg.FetchResponse); ok {
			releaseFetchBufs(fr) // encoded into buf: the record buffers are free
		}
		if _, err := w.Write(buf); err != nil {
			c.logger.Debug("closing connection: writing response", "err", err)
			return
		}
		if len(c.reqs) == 0 {
			if err := w.Flush(); err != nil {
				c.logger.Debug("closing connection: writing response", "err", err)
				return
			}
		}
		if cap(buf) > 1<<20 {
			buf = nil // do not pin a large fetch response buffer
		}
	}
	if err := w.Flush(); err != nil {
		c.logger.Debug("flushing responses on close", "err", err)
	}
}

// readLoop reads and decodes frames into c.reqs until an error; it closes
// c.reqs when it stops.
func (c *conn) readLoop() {
	defer close(c.reqs)
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				c.logger.Info("closing connection: reading request size", "err", err)
			}
			return
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > c.s.cfg.MaxRequestBytes {
			c.logger.Warn("closing connection: request size out of range", "size", size, "socket.request.max.bytes", c.s.cfg.MaxRequestBytes)
			return
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(r, frame); err != nil {
			c.logger.Warn("closing connection: truncated request", "size", size, "err", err)
			return
		}
		req, err := decodeRequest(frame, c.s.versionRange)
		if err != nil {
			args := []any{"err", err}
			if req != nil {
				args = append(args, "api_key", req.key, "version", req.version)
				if req.clientID != nil {
					args = append(args, "client_id", *req.clientID)
				}
			}
			c.logger.Warn("closing connection: bad request", args...)
			return
		}
		select {
		case c.reqs <- req:
		case <-c.done:
			return
		}
	}
}

// handle dispatches one request to its API handler.
func (c *conn) handle(req *request) (kmsg.Response, error) {
	if req.unsupportedAPIVersions {
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.SetVersion(0)
		resp.ErrorCode = 35 // UNSUPPORTED_VERSION
		resp.ApiKeys = c.s.advertised()
		return resp, nil
	}
	var resp kmsg.Response
	var err error
	if e, ok := apis[req.key]; ok {
		resp, err = e.handle(c.s.ctx, c.s, req.kreq)
	} else if c.s.cfg.Groups != nil {
		var clientID string
		if req.clientID != nil {
			clientID = *req.clientID
		}
		host := "/" + c.nc.RemoteAddr().String()
		if tcp, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
			host = "/" + tcp.IP.String()
		}
		resp, err = c.s.cfg.Groups.Handle(group.WithClient(c.s.ctx, clientID, host), req.kreq)
	} else {
		err = fmt.Errorf("%w %d", errUnknownKey, req.key)
	}
	if err != nil {
		return nil, err
	}
	if resp != nil && (resp.Key() != req.key || resp.GetVersion() != req.version) {
		return nil, fmt.Errorf("handler answered %s v%d with key %d v%d", kmsg.NameForKey(req.key), req.version, resp.Key(), resp.GetVersion())
	}
	return resp, nil
}
