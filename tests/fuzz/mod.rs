//! A small deterministic mutation fuzzer, run as an ordinary integration test.
//!
//! cargo-fuzz needs a nightly toolchain and coverage instrumentation; this
//! needs neither. It mutates the files of `tests/fuzz/corpus/<target>/`
//! (byte flips, slice edits, splices between files, tokens from a per-target
//! dictionary, deep nesting, huge numbers, NUL and invalid UTF-8) and feeds
//! each result to the target on a worker thread. A panic (shrunk to the
//! bytes that matter), a worker that dies, one input running longer than
//! [`HANG`], or one allocation past the target's [`MaxAlloc`] fails the test
//! with the input printed as a Rust byte string and the seed that replays
//! the run. There is no coverage feedback: mutated inputs go back into a
//! pool so mutations stack, and the corpus carries the structure.
//!
//! Environment:
//! - `FERRY_FUZZ_SECS`: seconds per target (default 12; five targets make
//!   about a minute).
//! - `FERRY_FUZZ_SEED`: replay a run (decimal or `0x` hex). The inputs depend
//!   only on the seed and the corpus, never on timing, so the same seed with
//!   at least as many seconds reaches the same failing input.
//! - `FERRY_FUZZ_TRACE=1`: print every input before running it, to find the
//!   one that killed the process (a stack overflow aborts; it cannot be caught).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Once};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One input taking longer than this is a hang.
pub const HANG: Duration = Duration::from_secs(10);
/// An input slower than this is shown at the end of the run.
const SLOW: Duration = Duration::from_secs(1);
/// Inputs grow by mutation; beyond this they are cut, so a target is fuzzed
/// for its logic rather than for how fast it reads megabytes.
const MAX_LEN: usize = 16 * 1024;
/// Mutated inputs kept as bases for further mutation (mutations stack up).
const POOL: usize = 512;
/// Shrinking a panicking input stops after this many attempts.
const SHRINK_TRIES: usize = 4000;

/// What to fuzz: a name (the corpus folder), extra dictionary tokens, the
/// worker's stack size (the thread the parser runs on in ferry), the largest
/// single allocation one input may ask for, and a constructor for the
/// function that runs one input. The constructor runs on the worker, so the
/// function's state (a temp dir, a template environment) need not be `Send`.
pub struct Target<M> {
    pub name: &'static str,
    pub tokens: &'static [&'static [u8]],
    pub stack_size: usize,
    pub max_alloc: MaxAlloc,
    pub make: M,
}

/// What an input that asks for a huge allocation at once means.
#[derive(Clone, Copy)]
pub enum MaxAlloc {
    /// A bug: a parser amplified a small input into this many bytes.
    Fail(usize),
    /// The input's own cost (a template may double a string forty times, as
    /// Jinja allows): skip it and carry on with a fresh worker.
    Skip(usize),
}

impl MaxAlloc {
    fn limit(self) -> usize {
        match self {
            MaxAlloc::Fail(n) | MaxAlloc::Skip(n) => n,
        }
    }
}

/// Runs `target` for the configured time budget; panics with a replayable
/// report on the first failing input.
pub fn fuzz<M, F>(target: Target<M>)
where
    M: Fn() -> F + Send + Sync + 'static,
    F: FnMut(&[u8]) + 'static,
{
    install_panic_hook();
    let secs = env_f64("FERRY_FUZZ_SECS").unwrap_or(12.0);
    let seed = env_seed();
    let corpus = load_corpus(target.name);
    let replay = format!("FERRY_FUZZ_SEED={seed} cargo test --test fuzz_parsers {}", target.name);
    // Straight to stderr, past the test harness's capture: a stack overflow
    // aborts the process and would swallow captured output.
    let _ = writeln!(std::io::stderr(), "fuzz {}: seed {seed}, {secs} s, {} corpus files (replay: {replay})", target.name, corpus.len());

    let make = Arc::new(target.make);
    let spawn = || Worker::spawn(target.name, target.stack_size, target.max_alloc.limit(), Arc::clone(&make));
    let mut worker = spawn();
    let trace = std::env::var_os("FERRY_FUZZ_TRACE").is_some_and(|v| v == "1");
    let mut rng = Rng::new(seed ^ fnv1a(target.name.as_bytes()));
    let mut mutator = Mutator::new(corpus, target.tokens);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let (mut execs, mut skipped) = (0u64, 0u64);
    let mut slowest = (Duration::ZERO, Vec::new());
    // The corpus as it is first: a seed file that fails is the cheapest report.
    let mut originals = mutator.corpus.clone().into_iter();
    while let Some(input) = originals.next().or_else(|| (Instant::now() < deadline).then(|| mutator.next(&mut rng))) {
        if trace {
            let _ = writeln!(std::io::stderr(), "fuzz {} #{execs}: {}", target.name, escape(&input));
        }
        let began = Instant::now();
        let outcome = worker.run(&input);
        execs += 1;
        if began.elapsed() > slowest.0 {
            slowest = (began.elapsed(), input.clone());
        }
        let failure = match outcome {
            Ok(()) => continue,
            Err(Failure::Oversize(_)) if matches!(target.max_alloc, MaxAlloc::Skip(_)) => {
                // The old worker stays parked; its memory is bounded by the limit.
                skipped += 1;
                worker = spawn();
                continue;
            }
            Err(failure) => failure,
        };
        let (input, failure) = if matches!(failure, Failure::Panic { .. }) { shrink(&worker, input, failure) } else { (input, failure) };
        panic!(
            "fuzz {}: {failure} on input #{} ({} bytes)\n  seed: {seed}\n  replay: {replay}\n  input: {}",
            target.name,
            execs - 1,
            input.len(),
            escape(&input)
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = execs as f64 / elapsed;
    let skips = if skipped > 0 { format!(", {skipped} skipped for asking more than {} MiB at once", target.max_alloc.limit() >> 20) } else { String::new() };
    let _ = writeln!(std::io::stderr(), "fuzz {}: {execs} inputs in {elapsed:.1} s ({rate:.0}/s){skips}, no panic, no hang", target.name);
    if slowest.0 > SLOW {
        // Not a failure, but the next one may cross the line: worth a look.
        let _ = writeln!(std::io::stderr(), "fuzz {}: slowest input took {:.1} s: {}", target.name, slowest.0.as_secs_f64(), escape(&slowest.1));
    }
}

/// Why one input failed.
#[derive(Debug, Clone)]
enum Failure {
    /// The message, and where it was raised (`file:line:col`).
    Panic { message: String, at: String },
    /// Still running after [`HANG`].
    Hang,
    /// Asked for this many bytes at once, past the target's limit.
    Oversize(usize),
    /// The worker thread is gone (it hung on an earlier input).
    Dead,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panic { message, at } => write!(f, "panic at {at}: {message}"),
            Failure::Hang => write!(f, "hang: still running after {} s", HANG.as_secs()),
            Failure::Oversize(n) => write!(f, "asked for {n} bytes at once"),
            Failure::Dead => write!(f, "the worker thread is gone"),
        }
    }
}

/// The thread that runs inputs, so the fuzzer can give up on one that hangs.
struct Worker {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Result<(), (String, String)>>,
    /// Set by [`Allocator`] to the size of an allocation past the limit.
    oversize: Arc<AtomicUsize>,
}

impl Worker {
    fn spawn<M, F>(name: &str, stack_size: usize, max_alloc: usize, make: Arc<M>) -> Worker
    where
        M: Fn() -> F + Send + Sync + 'static,
        F: FnMut(&[u8]) + 'static,
    {
        let (tx, inputs) = mpsc::channel::<Vec<u8>>();
        let (results, rx) = mpsc::channel();
        let oversize = Arc::new(AtomicUsize::new(0));
        let flag = Arc::clone(&oversize);
        thread::Builder::new()
            .name(format!("fuzz-{name}"))
            .stack_size(stack_size)
            .spawn(move || {
                IN_WORKER.with(|w| w.set(true));
                let mut exec = (*make)();
                ALLOC_LIMIT.with(|l| l.set(max_alloc));
                OVERSIZE.with(|o| o.set(Arc::as_ptr(&flag)));
                for input in inputs {
                    let outcome = panic::catch_unwind(AssertUnwindSafe(|| exec(&input)));
                    let outcome = outcome.map_err(|payload| {
                        let message = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned());
                        let at = PANIC_AT.with(|p| p.borrow_mut().take()).unwrap_or_default();
                        (message.unwrap_or_else(|| "(no message)".to_string()), at)
                    });
                    if results.send(outcome).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn the fuzz worker");
        Worker { tx, rx, oversize }
    }

    fn run(&self, input: &[u8]) -> Result<(), Failure> {
        if self.tx.send(input.to_vec()).is_err() {
            return Err(Failure::Dead);
        }
        let deadline = Instant::now() + HANG;
        loop {
            match self.rx.recv_timeout(Duration::from_millis(10)) {
                Ok(Ok(())) => return Ok(()),
                Ok(Err((message, at))) => return Err(Failure::Panic { message, at }),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(Failure::Dead),
                Err(mpsc::RecvTimeoutError::Timeout) => match self.oversize.load(Ordering::SeqCst) {
                    0 if Instant::now() < deadline => {}
                    0 => return Err(Failure::Hang),
                    n => return Err(Failure::Oversize(n)),
                },
            }
        }
    }
}

thread_local! {
    static IN_WORKER: Cell<bool> = const { Cell::new(false) };
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The largest allocation this thread may ask for.
    static ALLOC_LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Where to report an allocation past the limit (a worker's `oversize`).
    static OVERSIZE: Cell<*const AtomicUsize> = const { Cell::new(std::ptr::null()) };
}

/// The system allocator, except that a fuzz worker asking for more than its
/// limit at once is parked for good: an allocation cannot fail without
/// aborting the process, and cannot unwind. The fuzzer sees the flag, and
/// either reports the input or moves on with a new worker.
pub struct Allocator;

impl Allocator {
    fn check(size: usize) {
        if size <= ALLOC_LIMIT.try_with(Cell::get).unwrap_or(usize::MAX) {
            return;
        }
        if let Some(flag) = OVERSIZE.try_with(Cell::get).ok().filter(|f| !f.is_null()) {
            // SAFETY: the worker's closure holds the Arc this points into for
            // as long as the thread lives, and this thread never returns.
            unsafe { (*flag).store(size, Ordering::SeqCst) };
        }
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
}

// SAFETY: every call goes to `System` unchanged, or never returns.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Allocator::check(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Allocator::check(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Allocator::check(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Workers' panics are reported once, in the failure message with their
/// location; shrinking would otherwise print thousands of them. Other
/// threads keep the default hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_WORKER.with(Cell::get) {
                let at = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                PANIC_AT.with(|p| *p.borrow_mut() = at);
            } else {
                default(info);
            }
        }));
    });
}

/// Removes chunks of a panicking input while it still panics at the same
/// place, so the report shows the few bytes that matter.
fn shrink(worker: &Worker, mut input: Vec<u8>, mut failure: Failure) -> (Vec<u8>, Failure) {
    let Failure::Panic { at: place, .. } = failure.clone() else { return (input, failure) };
    let mut tries = 0;
    let mut chunk = input.len().div_ceil(2).max(1);
    loop {
        let mut from = 0;
        while from < input.len() && tries < SHRINK_TRIES {
            let mut smaller = input.clone();
            smaller.drain(from..(from + chunk).min(input.len()));
            tries += 1;
            match worker.run(&smaller) {
                Err(Failure::Panic { message, at }) if at == place => {
                    input = smaller;
                    failure = Failure::Panic { message, at };
                }
                Err(Failure::Hang | Failure::Dead | Failure::Oversize(_)) => return (input, failure),
                _ => from += chunk,
            }
        }
        if chunk == 1 || tries >= SHRINK_TRIES {
            break;
        }
        chunk /= 2;
    }
    (input, failure)
}

/// xorshift64* seeded through splitmix64: tiny, fast and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-enough in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Bytes that tend to break parsers.
const BYTES: &[u8] = b"\x00\xff\x7f\x80\xc0\n\r\t \"'\\:-[]{}#%=,&*!|>?@`~";

/// Tokens every target gets.
const COMMON_TOKENS: &[&[u8]] = &[
    b"\x00",
    b"\r",
    b"\r\n",
    b"\t",
    b"\xef\xbb\xbf",
    "\u{2028}".as_bytes(),
    "\u{85}".as_bytes(),
    "é".as_bytes(),
    "🦀".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\\",
    b"\"",
    b"'",
    b"{{",
    b"}}",
    b"{%",
    b"%}",
    b"{#",
    b"#}",
    b":",
    b": ",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"#",
    b"=",
    b"\n",
    b"null",
    b"~",
    b"true",
    b"yes",
    b"\"\"",
];

/// Numbers at the edges of every integer and float type.
const NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"-0",
    b"255",
    b"256",
    b"65535",
    b"65536",
    b"2147483647",
    b"2147483648",
    b"4294967296",
    b"9223372036854775807",
    b"9223372036854775808",
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"99999999999999999999999999999999999999",
    b"1e308",
    b"1e309",
    b"-1e309",
    b"0.0000001",
    b"NaN",
    b".nan",
    b".inf",
    b"-.inf",
    b"0x7fffffff",
    b"0o777",
    b"1_000",
    b"000000000000000000000000000001",
];

/// Opening and closing pairs for deep nesting.
const NESTING: &[(&[u8], &[u8])] = &[
    (b"[", b"]"),
    (b"{", b"}"),
    (b"{\"a\":", b"}"),
    (b"{a: ", b"}"),
    (b"(", b")"),
    (b"{% if x %}", b"{% endif %}"),
    (b"{% for x in y %}", b"{% endfor %}"),
    (b"- ", b""),
    (b"? ", b""),
    (b"!!seq ", b""),
];

/// Makes each next input from the corpus and from earlier inputs.
struct Mutator {
    corpus: Vec<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    tokens: Vec<&'static [u8]>,
}

impl Mutator {
    fn new(corpus: Vec<Vec<u8>>, tokens: &'static [&'static [u8]]) -> Mutator {
        let tokens = COMMON_TOKENS.iter().chain(tokens).copied().collect();
        Mutator { corpus, pool: Vec::new(), tokens }
    }

    fn next(&mut self, rng: &mut Rng) -> Vec<u8> {
        let mut data = if !self.pool.is_empty() && rng.one_in(3) { rng.pick(&self.pool).clone() } else { rng.pick(&self.corpus).clone() };
        let rounds = 1 << rng.below(4);
        for _ in 0..rounds {
            self.mutate(&mut data, rng);
        }
        data.truncate(MAX_LEN);
        if rng.one_in(4) {
            if self.pool.len() < POOL {
                self.pool.push(data.clone());
            } else {
                let i = rng.below(POOL);
                self.pool[i] = data.clone();
            }
        }
        data
    }

    /// A random input other than the one being mutated, for splicing.
    fn other(&self, rng: &mut Rng) -> &[u8] {
        let from = if !self.pool.is_empty() && rng.one_in(4) { &self.pool } else { &self.corpus };
        rng.pick(from).as_slice()
    }

    fn mutate(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        let len = data.len();
        match rng.below(16) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = *rng.pick(BYTES);
            }
            2 if len > 0 => {
                let (at, n) = slice(rng, len);
                data.drain(at..at + n);
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let (from, n) = slice(rng, len);
                let copy = data[from..from + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, copy);
            }
            5..=7 => {
                let token = *rng.pick(&self.tokens);
                let at = rng.below(len + 1);
                data.splice(at..at, token.iter().copied());
            }
            8 => {
                // Head of this input, tail of another.
                let other = self.other(rng);
                let from = rng.below(other.len() + 1);
                let tail = other[from..].to_vec();
                data.truncate(rng.below(len + 1));
                data.extend(tail);
            }
            9 => {
                // One line of another input, at the start of one of ours.
                let other = self.other(rng);
                let starts = line_starts(other);
                let begin = *rng.pick(&starts);
                let end = other[begin..].iter().position(|b| *b == b'\n').map_or(other.len(), |p| begin + p + 1);
                let line = other[begin..end].to_vec();
                let at = *rng.pick(&line_starts(data));
                data.splice(at..at, line);
            }
            10 => {
                let (open, close) = *rng.pick(NESTING);
                let depth = 1 << rng.below(13);
                let at = rng.below(len + 1);
                let mut nest = open.repeat(depth);
                if open.ends_with(b" ") && close.is_empty() && rng.one_in(2) {
                    // Block style: each level on its own line, indented one more.
                    nest = (0..depth.min(200)).flat_map(|d| [b" ".repeat(d), open.to_vec(), b"\n".to_vec()].concat()).collect();
                }
                let keep_closed = rng.one_in(2);
                data.splice(at..at, nest);
                if keep_closed {
                    let after = (at + open.len() * depth).min(data.len());
                    data.splice(after..after, close.repeat(depth));
                }
            }
            11 => {
                // Swap a run of digits for an edge number, or drop one in.
                let number = *rng.pick(NUMBERS);
                let digits: Vec<usize> = (0..len).filter(|i| data[*i].is_ascii_digit()).collect();
                if digits.is_empty() {
                    let at = rng.below(len + 1);
                    data.splice(at..at, number.iter().copied());
                } else {
                    let start = *rng.pick(&digits);
                    let end = (start..len).find(|i| !data[*i].is_ascii_digit()).unwrap_or(len);
                    data.splice(start..end, number.iter().copied());
                }
            }
            12 => {
                // Indent or dedent a line, with spaces or a tab.
                let at = *rng.pick(&line_starts(data));
                match rng.below(3) {
                    0 => drop(data.splice(at..at, b" ".repeat(1 + rng.below(4)))),
                    1 => drop(data.splice(at..at, [b'\t'])),
                    _ => {
                        let n = data[at..].iter().take_while(|b| **b == b' ').count().min(1 + rng.below(4));
                        data.drain(at..at + n);
                    }
                }
            }
            13 => {
                // Duplicate, drop or move a whole line.
                let starts = line_starts(data);
                let begin = *rng.pick(&starts);
                let end = data[begin..].iter().position(|b| *b == b'\n').map_or(len, |p| begin + p + 1);
                let line: Vec<u8> = data.drain(begin..end).collect();
                match rng.below(3) {
                    0 => {
                        data.splice(begin..begin, line.clone());
                        data.splice(begin..begin, line);
                    }
                    1 => {}
                    _ => {
                        let at = *rng.pick(&line_starts(data));
                        data.splice(at..at, line);
                    }
                }
            }
            14 => data.truncate(rng.below(len + 1)),
            _ => {
                // Repeat a slice many times: long keys, long lines, many entries.
                if len > 0 {
                    let (from, n) = slice(rng, len);
                    let copy = data[from..from + n].repeat(1 + rng.below(64));
                    data.splice(from..from, copy);
                }
            }
        }
    }
}

/// A random non-empty slice `(start, len)` of a buffer of `len > 0` bytes,
/// short more often than long.
fn slice(rng: &mut Rng, len: usize) -> (usize, usize) {
    let longest = if rng.one_in(4) { len } else { len.min(16) };
    let max = 1 + rng.below(longest);
    let at = rng.below(len + 1 - max);
    (at, max)
}

/// Offsets where a line starts (0 and after every `\n`, end included).
fn line_starts(data: &[u8]) -> Vec<usize> {
    std::iter::once(0).chain(data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1)).collect()
}

/// `b"..."`, ready to paste into a unit test.
pub fn escape(data: &[u8]) -> String {
    let mut out = String::from("b\"");
    for &b in data {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The files of `tests/fuzz/corpus/<name>/`, in name order.
fn load_corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus").join(name);
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    paths.sort();
    let corpus: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).collect();
    assert!(!corpus.is_empty(), "{} holds no corpus files", dir.display());
    corpus
}

fn env_f64(name: &str) -> Option<f64> {
    let text = std::env::var(name).ok()?;
    Some(text.trim().parse().unwrap_or_else(|_| panic!("{name}={text:?} is not a number of seconds")))
}

/// `FERRY_FUZZ_SEED`, or a fresh one from the clock.
fn env_seed() -> u64 {
    match std::env::var("FERRY_FUZZ_SEED") {
        Ok(text) => {
            let t = text.trim();
            let parsed = match t.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => t.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("FERRY_FUZZ_SEED={text:?} is not a number"))
        }
        Err(_) => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            (now.as_nanos() as u64) ^ u64::from(std::process::id()).rotate_left(32)
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// A folder under the system temp dir, removed when dropped (also when the
/// test panics).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("ferry-fuzz-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
