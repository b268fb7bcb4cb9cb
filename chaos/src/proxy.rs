//! A UDP chaos proxy for one link: it listens on a loopback address that a
//! child dials instead of its parent's, and forwards datagrams both ways,
//! one upstream socket per client source address (a restarted child comes
//! from a new port and gets a new session).
//!
//! Every datagram, in either direction, meets the same faults, decided by
//! one seeded RNG owned by the proxy's scheduler task:
//!
//! - **partition**: inside a scheduled window (or while [`Proxy::partition`]
//!   holds) everything is dropped;
//! - **loss**: dropped with probability `loss`;
//! - **delay**: held for `delay + U(0, jitter)`; with jitter, later
//!   datagrams may overtake earlier ones (reordering);
//! - **duplication**: with probability `duplicate` a second copy goes out,
//!   with its own delay;
//! - **bandwidth**: a token bucket of `bandwidth` bytes per second per
//!   direction: a datagram leaves no earlier than the bucket allows; one
//!   that would wait longer than [`ChaosConfig::max_backlog`] is dropped
//!   (a full router queue), so queues stay bounded.
//!
//! The inbox from the socket readers is a bounded channel and the delay
//! queue has a bound; a datagram that finds either full is dropped and
//! counted. [`Proxy::heal`] turns loss, duplication and partitions off
//! (delay and the bandwidth cap stay: they never lose anything by design).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Largest datagram read (QUIC stays well below this).
const MAX_DATAGRAM: usize = 64 * 1024;
/// Datagrams waiting between the socket readers and the scheduler.
const INBOX: usize = 4096;
/// Most sessions (client source addresses) one proxy keeps.
const MAX_SESSIONS: usize = 256;

/// The faults one proxy applies.
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosConfig {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Delay added to every datagram.
    pub delay: Duration,
    /// A further uniform random delay in `0..=jitter`; reorders.
    pub jitter: Duration,
    /// Probability that a datagram is sent twice.
    pub duplicate: f64,
    /// Bytes per second per direction; `None` for no cap.
    pub bandwidth: Option<u64>,
    /// Longest a datagram may wait for the bandwidth cap before it is dropped.
    pub max_backlog: Duration,
    /// Windows, as offsets from the proxy's start, in which everything is dropped.
    pub partitions: Vec<(Duration, Duration)>,
    /// Most datagrams held in the delay queue.
    pub max_queue: usize,
}

impl Default for ChaosConfig {
    /// A clean link: nothing lost, delayed, duplicated or capped.
    fn default() -> Self {
        ChaosConfig {
            loss: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            duplicate: 0.0,
            bandwidth: None,
            max_backlog: Duration::from_millis(500),
            partitions: Vec::new(),
            max_queue: 8192,
        }
    }
}

/// What a proxy did, counted since it started.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Datagrams read, both directions.
    pub received: AtomicU64,
    /// Datagram copies written out, both directions.
    pub forwarded: AtomicU64,
    pub dropped_loss: AtomicU64,
    pub dropped_partition: AtomicU64,
    /// Dropped for a full inbox, delay queue or bandwidth backlog.
    pub dropped_overflow: AtomicU64,
    pub duplicated: AtomicU64,
    /// Copies forwarded after being held for a non-zero time.
    pub delayed: AtomicU64,
    /// Copies that left after a copy that arrived later than them.
    pub reordered: AtomicU64,
    /// Sessions (client source addresses) seen.
    pub sessions: AtomicU64,
}

/// A plain copy of [`ProxyStats`], summable.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub received: u64,
    pub forwarded: u64,
    pub dropped_loss: u64,
    pub dropped_partition: u64,
    pub dropped_overflow: u64,
    pub duplicated: u64,
    pub delayed: u64,
    pub reordered: u64,
    pub sessions: u64,
}

impl StatsSnapshot {
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_partition + self.dropped_overflow
    }
}

impl std::ops::AddAssign for StatsSnapshot {
    fn add_assign(&mut self, o: StatsSnapshot) {
        self.received += o.received;
        self.forwarded += o.forwarded;
        self.dropped_loss += o.dropped_loss;
        self.dropped_partition += o.dropped_partition;
        self.dropped_overflow += o.dropped_overflow;
        self.duplicated += o.duplicated;
        self.delayed += o.delayed;
        self.reordered += o.reordered;
        self.sessions += o.sessions;
    }
}

impl ProxyStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            received: g(&self.received),
            forwarded: g(&self.forwarded),
            dropped_loss: g(&self.dropped_loss),
            dropped_partition: g(&self.dropped_partition),
            dropped_overflow: g(&self.dropped_overflow),
            duplicated: g(&self.duplicated),
            delayed: g(&self.delayed),
            reordered: g(&self.reordered),
            sessions: g(&self.sessions),
        }
    }
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// Switches shared between the proxy handle and its scheduler.
#[derive(Debug, Default)]
struct Switches {
    healed: AtomicBool,
    partitioned: AtomicBool,
}

/// A running proxy. Dropping it stops it.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    stats: Arc<ProxyStats>,
    switches: Arc<Switches>,
    tasks: Vec<JoinHandle<()>>,
}

/// Which way a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dir {
    /// Client to upstream.
    Up,
    /// Upstream back to the client.
    Down,
}

struct Datagram {
    dir: Dir,
    client: SocketAddr,
    bytes: Vec<u8>,
}

/// A datagram copy waiting in the delay queue.
struct Held {
    due: Instant,
    arrived: Instant,
    /// Arrival order (per proxy), to count reordering.
    seq: u64,
    dir: Dir,
    client: SocketAddr,
    bytes: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.seq) == (o.due, o.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(o.due, o.seq))
    }
}

impl Proxy {
    /// Binds `listen` (port 0 for any) and forwards to `upstream` with the
    /// faults of `config`, decided by an RNG seeded with `seed`.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        config: ChaosConfig,
        seed: u64,
    ) -> std::io::Result<Proxy> {
        let front = Arc::new(UdpSocket::bind(listen).await?);
        let addr = front.local_addr()?;
        let stats = Arc::new(ProxyStats::default());
        let switches = Arc::new(Switches::default());
        let (tx, rx) = mpsc::channel::<Datagram>(INBOX);

        let reader = tokio::spawn(read_front(front.clone(), tx.clone(), stats.clone()));
        let scheduler = Scheduler {
            front,
            upstream,
            config,
            rng: StdRng::seed_from_u64(seed),
            started: Instant::now(),
            stats: stats.clone(),
            switches: switches.clone(),
            sessions: HashMap::new(),
            readers: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            sent_up_to: HashMap::new(),
            bucket_free: HashMap::new(),
            tx,
        };
        let scheduler = tokio::spawn(scheduler.run(rx));
        Ok(Proxy {
            addr,
            upstream,
            stats,
            switches,
            tasks: vec![reader, scheduler],
        })
    }

    /// Where clients should send.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// From now on: no loss, no duplication, no partition.
    pub fn heal(&self) {
        self.switches.healed.store(true, Ordering::Relaxed);
    }

    /// Drops everything while `on` (besides any scheduled windows).
    pub fn partition(&self, on: bool) {
        self.switches.partitioned.store(on, Ordering::Relaxed);
    }

    /// Stops forwarding.
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn read_front(front: Arc<UdpSocket>, tx: mpsc::Sender<Datagram>, stats: Arc<ProxyStats>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, client) = match front.recv_from(&mut buf).await {
            Ok(x) => x,
            // ICMP errors surface here on some systems: keep reading.
            Err(_) => continue,
        };
        bump(&stats.received);
        let d = Datagram {
            dir: Dir::Up,
            client,
            bytes: buf[..n].to_vec(),
        };
        if tx.try_send(d).is_err() {
            bump(&stats.dropped_overflow);
        }
    }
}

async fn read_upstream(sock: Arc<UdpSocket>, client: SocketAddr, tx: mpsc::Sender<Datagram>, stats: Arc<ProxyStats>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let n = match sock.recv(&mut buf).await {
            Ok(n) => n,
            // The upstream was down (connection refused): keep the session.
            Err(_) => continue,
        };
        bump(&stats.received);
        let d = Datagram {
            dir: Dir::Down,
            client,
            bytes: buf[..n].to_vec(),
        };
        if tx.try_send(d).is_err() {
            bump(&stats.dropped_overflow);
        }
    }
}

struct Scheduler {
    front: Arc<UdpSocket>,
    upstream: SocketAddr,
    config: ChaosConfig,
    rng: StdRng,
    started: Instant,
    stats: Arc<ProxyStats>,
    switches: Arc<Switches>,
    sessions: HashMap<SocketAddr, Arc<UdpSocket>>,
    readers: Vec<JoinHandle<()>>,
    queue: BinaryHeap<Reverse<Held>>,
    seq: u64,
    /// Highest arrival sequence sent so far, per direction.
    sent_up_to: HashMap<Dir, u64>,
    /// When each direction's bandwidth bucket is next free.
    bucket_free: HashMap<Dir, Instant>,
    tx: mpsc::Sender<Datagram>,
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        for r in &self.readers {
            r.abort();
        }
    }
}

impl Scheduler {
    async fn run(mut self, mut rx: mpsc::Receiver<Datagram>) {
        loop {
            let next_due = self.queue.peek().map(|Reverse(h)| h.due);
            tokio::select! {
                d = rx.recv() => match d {
                    Some(d) => self.arrive(d).await,
                    None => return,
                },
                _ = sleep_until_opt(next_due) => {}
            }
            let now = Instant::now();
            while self.queue.peek().is_some_and(|Reverse(h)| h.due <= now) {
                let Some(Reverse(held)) = self.queue.pop() else { break };
                self.send(held).await;
            }
        }
    }

    fn partitioned(&self, now: Instant) -> bool {
        if self.switches.healed.load(Ordering::Relaxed) {
            return false;
        }
        if self.switches.partitioned.load(Ordering::Relaxed) {
            return true;
        }
        let t = now - self.started;
        self.config
            .partitions
            .iter()
            .any(|&(start, len)| t >= start && t < start + len)
    }

    async fn arrive(&mut self, d: Datagram) {
        let now = Instant::now();
        self.seq += 1;
        let seq = self.seq;
        if self.partitioned(now) {
            bump(&self.stats.dropped_partition);
            return;
        }
        let healed = self.switches.healed.load(Ordering::Relaxed);
        // Draw every random number whatever the outcome, so one decision
        // does not shift the stream for the next datagram's.
        let lost = self.rng.random_bool(self.config.loss.clamp(0.0, 1.0));
        let dup = self.rng.random_bool(self.config.duplicate.clamp(0.0, 1.0));
        if lost && !healed {
            bump(&self.stats.dropped_loss);
            return;
        }
        if d.dir == Dir::Up && !self.sessions.contains_key(&d.client) && !self.open_session(d.client).await {
            bump(&self.stats.dropped_overflow);
            return;
        }
        let copies = if dup && !healed { 2 } else { 1 };
        if copies == 2 {
            bump(&self.stats.duplicated);
        }
        for _ in 0..copies {
            // The bottleneck first (a FIFO: the bucket), then the link's
            // own delay and jitter, so a capped link still reorders.
            let mut start = now;
            if let Some(rate) = self.config.bandwidth.filter(|r| *r > 0) {
                let free = self.bucket_free.entry(d.dir).or_insert(now);
                start = (*free).max(now);
                if start - now > self.config.max_backlog {
                    bump(&self.stats.dropped_overflow);
                    continue;
                }
                *free = start + Duration::from_secs_f64(d.bytes.len() as f64 / rate as f64);
            }
            let due = start + self.config.delay + self.jitter();
            if self.queue.len() >= self.config.max_queue {
                bump(&self.stats.dropped_overflow);
                continue;
            }
            self.queue.push(Reverse(Held {
                due,
                arrived: now,
                seq,
                dir: d.dir,
                client: d.client,
                bytes: d.bytes.clone(),
            }));
        }
    }

    fn jitter(&mut self) -> Duration {
        let j = self.config.jitter.as_micros() as u64;
        if j == 0 {
            Duration::ZERO
        } else {
            Duration::from_micros(self.rng.random_range(0..=j))
        }
    }

    async fn open_session(&mut self, client: SocketAddr) -> bool {
        if self.sessions.len() >= MAX_SESSIONS {
            return false;
        }
        let bind: SocketAddr = match self.upstream {
            SocketAddr::V4(a) => SocketAddr::new((*a.ip()).into(), 0),
            SocketAddr::V6(a) => SocketAddr::new((*a.ip()).into(), 0),
        };
        let Ok(sock) = UdpSocket::bind(bind).await else {
            return false;
        };
        if sock.connect(self.upstream).await.is_err() {
            return false;
        }
        let sock = Arc::new(sock);
        bump(&self.stats.sessions);
        self.readers.push(tokio::spawn(read_upstream(
            sock.clone(),
            client,
            self.tx.clone(),
            self.stats.clone(),
        )));
        self.sessions.insert(client, sock);
        true
    }

    async fn send(&mut self, held: Held) {
        let top = self.sent_up_to.entry(held.dir).or_insert(0);
        if held.seq < *top {
            bump(&self.stats.reordered);
        }
        *top = (*top).max(held.seq);
        let sent = match held.dir {
            Dir::Up => match self.sessions.get(&held.client) {
                Some(sock) => sock.send(&held.bytes).await.is_ok(),
                None => false,
            },
            Dir::Down => self.front.send_to(&held.bytes, held.client).await.is_ok(),
        };
        if sent {
            bump(&self.stats.forwarded);
            if held.due > held.arrived {
                bump(&self.stats.delayed);
            }
        }
    }
}

/// Sleeps until `due`, or forever when there is nothing to wait for.
pub(crate) async fn sleep_until_opt(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that records what reaches it and echoes nothing.
    async fn sink() -> (Arc<UdpSocket>, SocketAddr) {
        let s = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let a = s.local_addr().unwrap();
        (s, a)
    }

    /// Sends `n` numbered datagrams through a proxy with `config`, then
    /// collects what arrives until `quiet` passes with nothing new.
    async fn run(config: ChaosConfig, n: u32, seed: u64, quiet: Duration) -> (Vec<u32>, StatsSnapshot) {
        let (sink, sink_addr) = sink().await;
        let proxy = Proxy::start("127.0.0.1:0".parse().unwrap(), sink_addr, config, seed)
            .await
            .unwrap();
        // Read while sending: the sink's socket buffer holds only a few hundred datagrams.
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            while let Ok(Ok(len)) = tokio::time::timeout(quiet, sink.recv(&mut buf)).await {
                assert_eq!(len, 4);
                got.push(u32::from_be_bytes(buf[..4].try_into().unwrap()));
            }
            got
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for i in 0..n {
            client.send_to(&i.to_be_bytes(), proxy.addr()).await.unwrap();
            if i % 32 == 31 {
                // Let the proxy drain so its inbox never overflows.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let got = reader.await.unwrap();
        (got, proxy.stats())
    }

    #[tokio::test]
    async fn loss_is_near_the_configured_rate() {
        let config = ChaosConfig {
            loss: 0.2,
            ..ChaosConfig::default()
        };
        let n = 5000;
        let (got, stats) = run(config, n, 7, Duration::from_millis(300)).await;
        assert_eq!(stats.received, n as u64);
        assert_eq!(stats.dropped_overflow, 0);
        let rate = stats.dropped_loss as f64 / n as f64;
        assert!((0.17..0.23).contains(&rate), "loss rate {rate}");
        assert_eq!(got.len() as u64, n as u64 - stats.dropped_loss);
        // No delay configured: what survives keeps its order.
        assert!(got.windows(2).all(|w| w[0] < w[1]));
    }

    #[tokio::test]
    async fn the_same_seed_drops_the_same_datagrams() {
        let config = ChaosConfig {
            loss: 0.3,
            ..ChaosConfig::default()
        };
        let (a, _) = run(config.clone(), 500, 11, Duration::from_millis(200)).await;
        let (b, _) = run(config.clone(), 500, 11, Duration::from_millis(200)).await;
        let (c, _) = run(config, 500, 12, Duration::from_millis(200)).await;
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[tokio::test]
    async fn duplication_sends_some_datagrams_twice() {
        let config = ChaosConfig {
            duplicate: 0.25,
            ..ChaosConfig::default()
        };
        let n = 2000;
        let (got, stats) = run(config, n, 3, Duration::from_millis(300)).await;
        let rate = stats.duplicated as f64 / n as f64;
        assert!((0.21..0.29).contains(&rate), "duplication rate {rate}");
        assert_eq!(got.len() as u64, n as u64 + stats.duplicated);
        let mut counts = HashMap::new();
        for i in &got {
            *counts.entry(*i).or_insert(0) += 1;
        }
        assert_eq!(counts.len() as u32, n, "every datagram arrives");
        assert_eq!(counts.values().filter(|c| **c == 2).count() as u64, stats.duplicated);
    }

    #[tokio::test]
    async fn a_partition_drops_everything_until_it_ends() {
        let (sink, sink_addr) = sink().await;
        let config = ChaosConfig {
            partitions: vec![(Duration::ZERO, Duration::from_secs(3600))],
            ..ChaosConfig::default()
        };
        let proxy = Proxy::start("127.0.0.1:0".parse().unwrap(), sink_addr, config, 1)
            .await
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for i in 0u32..200 {
            client.send_to(&i.to_be_bytes(), proxy.addr()).await.unwrap();
        }
        let mut buf = [0u8; 16];
        let nothing = tokio::time::timeout(Duration::from_millis(300), sink.recv(&mut buf)).await;
        assert!(nothing.is_err(), "a datagram crossed the partition");
        assert_eq!(proxy.stats().dropped_partition, 200);
        // A manual partition, then healing, which lifts every partition.
        proxy.heal();
        client.send_to(&7u32.to_be_bytes(), proxy.addr()).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), sink.recv(&mut buf))
            .await
            .expect("healed link forwards")
            .unwrap();
        assert_eq!(&buf[..n], &7u32.to_be_bytes());
    }

    #[tokio::test]
    async fn a_fixed_delay_keeps_order_and_jitter_reorders() {
        let (sink, sink_addr) = sink().await;
        let delay = Duration::from_millis(80);
        let config = ChaosConfig {
            delay,
            ..ChaosConfig::default()
        };
        let proxy = Proxy::start("127.0.0.1:0".parse().unwrap(), sink_addr, config, 1)
            .await
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sent = Instant::now();
        client.send_to(&0u32.to_be_bytes(), proxy.addr()).await.unwrap();
        let mut buf = [0u8; 16];
        sink.recv(&mut buf).await.unwrap();
        assert!(sent.elapsed() >= delay, "arrived after {:?}", sent.elapsed());
        drop(proxy);

        let fixed = ChaosConfig {
            delay: Duration::from_millis(5),
            ..ChaosConfig::default()
        };
        let (got, stats) = run(fixed, 300, 2, Duration::from_millis(200)).await;
        assert_eq!(got, (0..300).collect::<Vec<_>>());
        assert_eq!(stats.reordered, 0);

        let jittery = ChaosConfig {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(20),
            ..ChaosConfig::default()
        };
        let (got, stats) = run(jittery, 300, 2, Duration::from_millis(300)).await;
        assert_eq!(got.len(), 300, "jitter loses nothing");
        assert!(got.windows(2).any(|w| w[0] > w[1]), "jitter reorders");
        assert!(stats.reordered > 0);
    }

    #[tokio::test]
    async fn replies_come_back_to_the_client_that_sent() {
        // An echo server upstream: two clients each get their own replies.
        let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = echo.recv_from(&mut buf).await {
                let _ = echo.send_to(&buf[..n], from).await;
            }
        });
        let proxy = Proxy::start("127.0.0.1:0".parse().unwrap(), echo_addr, ChaosConfig::default(), 1)
            .await
            .unwrap();
        for word in [b"one", b"two"] {
            let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            c.send_to(word, proxy.addr()).await.unwrap();
            let mut buf = [0u8; 8];
            let (n, from) = tokio::time::timeout(Duration::from_secs(2), c.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&buf[..n], word);
            assert_eq!(from, proxy.addr());
        }
        assert_eq!(proxy.stats().sessions, 2);
    }

    #[tokio::test]
    async fn a_bandwidth_cap_spaces_datagrams_and_bounds_the_backlog() {
        // 1000-byte datagrams at 100 kB/s: one per 10 ms; a 100 ms backlog
        // holds about 10, the rest of a burst of 50 is dropped.
        let (sink, sink_addr) = sink().await;
        let config = ChaosConfig {
            bandwidth: Some(100_000),
            max_backlog: Duration::from_millis(100),
            ..ChaosConfig::default()
        };
        let proxy = Proxy::start("127.0.0.1:0".parse().unwrap(), sink_addr, config, 1)
            .await
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let start = Instant::now();
        for _ in 0..50 {
            client.send_to(&[0u8; 1000], proxy.addr()).await.unwrap();
        }
        let mut buf = vec![0u8; 2000];
        let mut got = 0;
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(300), sink.recv(&mut buf)).await {
            got += 1;
        }
        let stats = proxy.stats();
        assert_eq!(got + stats.dropped_overflow, 50);
        assert!((9..=13).contains(&got), "{got} passed the cap");
        assert!(start.elapsed() >= Duration::from_millis(90));
    }
}
