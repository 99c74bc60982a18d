using System.Runtime.InteropServices;
using Sidekick.Http1;

namespace Sidekick.Core.Transport.Epoll;

/// <summary>What an <see cref="EpollEngine"/> watches: a connected socket or a listener.</summary>
internal interface IEpollHandler
{
    /// <summary>The registration's slot and generation (set by the engine).</summary>
    ulong Token { get; set; }

    /// <summary>Called on the loop's thread with the events of one edge.</summary>
    void OnEvents(uint events);
}

/// <summary>
/// Our own epoll loop for plain TCP connections: one thread per core, each with an epoll set in which sockets are
/// registered once, edge-triggered, for reading and writing. A ready event runs the waiting operation, and its
/// continuation (the proxy), on the loop's thread, as the runtime does with inline completions, but without the
/// runtime's eager retry: the runtime tries every receive before it waits, so a request/response connection paid a
/// receive that failed with EAGAIN per message; here a short read marks the socket drained and the next receive
/// waits for the edge instead (4 system calls per proxied request instead of 6, as haproxy and nginx do it).
/// </summary>
internal sealed unsafe class EpollEngine
{
    private const int MaxEvents = 256;

    private static readonly Lazy<EpollEngine[]> Engines = new(() =>
        [.. Enumerable.Range(0, Math.Max(1, Environment.ProcessorCount)).Select(i => new EpollEngine(i))]);

    private static int s_next;

    private readonly int _epfd;
    private readonly Lock _lock = new();
    private IEpollHandler?[] _slots = new IEpollHandler?[64];
    private int[] _generations = new int[64];
    private readonly Stack<int> _free = new();
    private int _used;

    // Sends put off to the end of the loop iteration (write-behind), with their state: to backends, then to
    // clients. Touched by the loop's thread only.
    private readonly List<(Action<object?> Send, object State)> _laterFirst = new();
    private readonly List<(Action<object?> Send, object State)> _later = new();

    [ThreadStatic]
    private static EpollEngine? t_writingBehind;

    private EpollEngine(int index)
    {
        _epfd = Native.EpollCreate(Native.EPOLL_CLOEXEC);
        if (_epfd < 0)
        {
            throw new InvalidOperationException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        }

        var thread = new Thread(Loop) { IsBackground = true, Name = $"sidekick epoll {index}" };
        thread.UnsafeStart();
    }

    /// <summary>Whether this platform has epoll (Linux).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>The engines take sockets in turn.</summary>
    public static EpollEngine Next()
    {
        var engines = Engines.Value;
        return engines[(int)((uint)Interlocked.Increment(ref s_next) % (uint)engines.Length)];
    }

    /// <summary>
    /// The fewest events an epoll_wait must return for the sends its events make to wait for the end of the iteration.
    /// A burst of a handful saves a peer few wake-ups, and each of its messages waits for the others: at 4 connections
    /// write-behind on every batch cost 6% of the requests/s. Tests set it to 1.
    /// </summary>
    internal static int WriteBehindFrom = 8;

    /// <summary>
    /// True on this engine's loop thread while it runs the events of an epoll_wait that returned at least
    /// <see cref="WriteBehindFrom"/>: sends may wait for the end of the iteration (<see cref="SendAtEndOfIteration"/>).
    /// </summary>
    public bool WritesBehind => t_writingBehind == this;

    /// <summary>
    /// Runs <paramref name="send"/>(<paramref name="state"/>) once the events of this iteration have run (only while
    /// <see cref="WritesBehind"/>): the sends of a whole batch of events then leave together, and a peer sleeping in
    /// epoll_wait is woken once per burst instead of once per message. As haproxy orders them, the sends to backends
    /// (<paramref name="first"/>) go before those to clients: the backend starts on the whole batch of requests while
    /// the responses go out (in an A/B it woke nginx a fifth less often than the order of the events did).
    /// </summary>
    public void SendAtEndOfIteration(Action<object?> send, object state, bool first) => (first ? _laterFirst : _later).Add((send, state));

    /// <summary>Adds <paramref name="socket"/> to the epoll set, edge-triggered for both directions.</summary>
    public void Register(IEpollHandler socket, int fd) =>
        Register(socket, fd, Native.EPOLLIN | Native.EPOLLOUT | Native.EPOLLRDHUP | Native.EPOLLET);

    /// <summary>Adds <paramref name="socket"/> to the epoll set for <paramref name="events"/>.</summary>
    public void Register(IEpollHandler socket, int fd, uint events)
    {
        ulong token;
        lock (_lock)
        {
            int slot;
            if (_free.Count > 0)
            {
                slot = _free.Pop();
            }
            else
            {
                if (_used == _slots.Length)
                {
                    Array.Resize(ref _generations, _used * 2);
                    var grown = new IEpollHandler?[_used * 2];
                    Array.Copy(_slots, grown, _used);
                    Volatile.Write(ref _slots, grown);
                }

                slot = _used++;
            }

            token = ((ulong)(uint)_generations[slot] << 32) | (uint)slot;
            socket.Token = token;
            Volatile.Write(ref _slots[slot], socket);
        }

        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + Native.EventDataOffset) = token;
        if (Native.EpollCtl(_epfd, Native.EPOLL_CTL_ADD, fd, ev) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Free(token);
            throw new System.Net.Sockets.SocketException((int)Native.ToSocketError(errno));
        }
    }

    /// <summary>Takes the socket out of the epoll set (before its descriptor is closed) and frees its slot.</summary>
    public void Unregister(IEpollHandler socket, int fd)
    {
        var ev = stackalloc byte[16];
        _ = Native.EpollCtl(_epfd, Native.EPOLL_CTL_DEL, fd, ev);
        Free(socket.Token);
    }

    /// <summary>
    /// Frees the socket's slot, leaving its registration to the close(2) that follows: closing the last descriptor of
    /// a socket takes it out of every epoll set, so an EPOLL_CTL_DEL first is a system call per connection for nothing.
    /// Until the close, an event still reported carries the old slot generation and is dropped.
    /// </summary>
    public void Forget(IEpollHandler socket) => Free(socket.Token);

    private void Free(ulong token)
    {
        var slot = (int)(uint)token;
        lock (_lock)
        {
            // A new generation: an event already read for the old socket no longer matches the slot's next one.
            _generations[slot]++;
            Volatile.Write(ref _slots[slot], null);
            _free.Push(slot);
        }
    }

    /// <summary>
    /// How long a loop waits without an event before it empties its thread's pool caches (milliseconds). Shorter than
    /// the server's 5 s before it returns memory at rest, so what the loop kept is garbage by then. Tests shorten it.
    /// </summary>
    internal static int IdleTrimAfter = 2000;

    private void Loop()
    {
        // This thread runs the requests of a whole batch of events between two waits: it keeps enough pooled items
        // for them (blocks, segments, async state), which takes the shared pools' lock off the request path.
        ThreadCaches.UseLargeCaches();
        var busy = false;
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * Native.EventSize));
        while (true)
        {
            var n = Native.EpollWait(_epfd, events, MaxEvents, busy ? IdleTrimAfter : -1);
            if (n <= 0)
            {
                if (n == 0)
                {
                    // Idle: nobody else can empty this thread's caches, and the memory returned at rest should not
                    // keep them. Waits without a timeout until the next event.
                    ThreadCaches.TrimThisThread();
                    busy = false;
                    continue;
                }

                if (Marshal.GetLastPInvokeError() == Native.EINTR)
                {
                    continue;
                }

                Environment.FailFast($"epoll_wait failed: errno {Marshal.GetLastPInvokeError()}");
            }

            busy = true;

            var slots = Volatile.Read(ref _slots);
            t_writingBehind = n >= WriteBehindFrom ? this : null;
            for (var i = 0; i < n; i++)
            {
                var e = events + (i * Native.EventSize);
                var token = *(ulong*)(e + Native.EventDataOffset);
                var slot = (int)(uint)token;
                if ((uint)slot >= (uint)slots.Length)
                {
                    slots = Volatile.Read(ref _slots);
                }

                if (Volatile.Read(ref slots[slot]) is { } socket && socket.Token == token)
                {
                    try
                    {
                        socket.OnEvents(*(uint*)e);
                    }
                    catch (Exception ex)
                    {
                        // A continuation that throws is a bug; the loop must survive it or every socket stalls.
                        Console.Error.WriteLine($"sidekick: unexpected error on the epoll thread: {ex}");
                    }
                }
            }

            t_writingBehind = null; // what the sends below resume sends at once
            RunLater(_laterFirst);
            RunLater(_later);
        }
    }

    private static void RunLater(List<(Action<object?> Send, object State)> later)
    {
        for (var i = 0; i < later.Count; i++)
        {
            try
            {
                later[i].Send(later[i].State);
            }
            catch (Exception ex)
            {
                Console.Error.WriteLine($"sidekick: unexpected error on the epoll thread: {ex}");
            }
        }

        later.Clear();
    }
}
