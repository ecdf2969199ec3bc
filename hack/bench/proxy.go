package main

import (
	"io"
	"net"
	"sync"
	"time"
)

// latencyProxy forwards TCP connections to upstream and delays every chunk by half the
// round-trip time in each direction, so each request/response exchange costs one added RTT.
type latencyProxy struct {
	ln       net.Listener
	upstream string
	half     time.Duration
	wg       sync.WaitGroup
}

func startProxy(upstream string, rtt time.Duration) (*latencyProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &latencyProxy{ln: ln, upstream: upstream, half: rtt / 2}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *latencyProxy) Addr() string { return p.ln.Addr().String() }

func (p *latencyProxy) Close() {
	_ = p.ln.Close()
	p.wg.Wait()
}

func (p *latencyProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *latencyProxy) handle(client net.Conn) {
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		_ = client.Close()
		return
	}
	// The connection itself takes a round trip to set up.
	time.Sleep(2 * p.half)
	done := make(chan struct{}, 2)
	go p.pipe(up, client, done)
	go p.pipe(client, up, done)
	<-done
	_ = client.Close()
	_ = up.Close()
	<-done
}

type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, delivering each chunk half an RTT after it was read, in order.
func (p *latencyProxy) pipe(dst io.Writer, src io.Reader, done chan<- struct{}) {
	queue := make(chan chunk, 1024)
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for c := range queue {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.data); err != nil {
				for range queue {
				}
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			queue <- chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(p.half)}
		}
		if err != nil {
			break
		}
	}
	close(queue)
	<-flushed // deliver what is in flight before the connection is torn down
	done <- struct{}{}
}
