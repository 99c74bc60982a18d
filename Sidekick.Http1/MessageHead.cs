using System.Runtime.CompilerServices;

namespace Sidekick.Http1;

/// <summary>
/// A parsed message head. The head bytes are copied into a buffer owned by this object (rented from a pool,
/// grown on demand, reused across messages until <see cref="ReleaseBuffers"/>), so spans stay valid after the
/// input pipe is advanced and a request can be re-sent on retry. All accessors return spans into that buffer.
/// </summary>
public abstract class MessageHead
{
    private const int InitialHeaderSlots = 16;

    private byte[] _bytes = [];
    private int _used;
    private HeaderEntry[] _headers = [];
    private int _headerCount;

    private bool _isHttp11;
    private BodyFraming _framing;
    private long _contentLength;
    private bool _keepAlive;
    private bool _isUpgrade;
    private Segment _upgradeValue;
    private int _headLength;

    /// <summary>Number of header fields (in order of arrival).</summary>
    public int HeaderCount => _headerCount;

    /// <summary>Name of header i, as received.</summary>
    public ReadOnlySpan<byte> HeaderName(int i) => Span(Entry(i).Name);

    /// <summary>Value of header i, leading/trailing OWS removed.</summary>
    public ReadOnlySpan<byte> HeaderValue(int i) => Span(Entry(i).Value);

    /// <summary>Known id of header i.</summary>
    public KnownHeader HeaderKind(int i) => Entry(i).Kind;

    /// <summary>True when header i must not be forwarded: the fixed hop-by-hop set, or a name listed in Connection.</summary>
    public bool IsHopByHop(int i) => Entry(i).HopByHop;

    /// <summary>HTTP/1.1 (true) or HTTP/1.0 (false).</summary>
    public bool IsHttp11 => _isHttp11;

    /// <summary>Body framing decided from the headers.</summary>
    public BodyFraming Framing => _framing;

    /// <summary>Content-Length when <see cref="Framing"/> is ContentLength.</summary>
    public long ContentLength => _contentLength;

    /// <summary>The sender allows the connection to persist after this message (1.1 without close, 1.0 with keep-alive).</summary>
    public bool KeepAlive => _keepAlive;

    /// <summary>Upgrade requested (request) or accepted with 101 (response).</summary>
    public bool IsUpgrade => _isUpgrade;

    /// <summary>Value of the Upgrade header when <see cref="IsUpgrade"/>.</summary>
    public ReadOnlySpan<byte> UpgradeValue => Span(_upgradeValue);

    /// <summary>Size of the head in the input, in bytes.</summary>
    public int HeadLength => _headLength;

    /// <summary>Version seen on the start line, until <see cref="SetMessageFacts"/> publishes it.</summary>
    internal bool IsHttp11Pending { get; set; }

    /// <summary>Forget the previous message; the buffers are kept for the next one.</summary>
    internal virtual void Reset()
    {
        _used = 0;
        IsHttp11Pending = false;
        _headerCount = 0;
        _isHttp11 = false;
        _framing = BodyFraming.None;
        _contentLength = 0;
        _keepAlive = false;
        _isUpgrade = false;
        _upgradeValue = default;
        _headLength = 0;
    }

    /// <summary>
    /// Forgets the message and gives its buffers back to the pool, so that an idle keep-alive connection holds
    /// no head memory; the next message rents them again.
    /// </summary>
    public void ReleaseBuffers()
    {
        Reset();
        if (_bytes.Length > 0)
        {
            BlockPool<byte>.Return(_bytes);
            _bytes = [];
        }

        if (_headers.Length > 0)
        {
            BlockPool<HeaderEntry>.Return(_headers);
            _headers = [];
        }
    }

    /// <summary>Copies bytes into the owned buffer and returns where they are.</summary>
    internal Segment Append(ReadOnlySpan<byte> bytes)
    {
        int needed = _used + bytes.Length;
        if (needed > _bytes.Length)
        {
            Grow(needed);
        }

        bytes.CopyTo(_bytes.AsSpan(_used));
        var segment = new Segment(_used, bytes.Length);
        _used = needed;
        return segment;
    }

    /// <summary>Appends two pieces as one contiguous segment (used to build "/" + query for absolute-form targets).</summary>
    internal Segment Append(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        Segment a = Append(first);
        Segment b = Append(second);
        return new Segment(a.Start, a.Length + b.Length);
    }

    internal ReadOnlySpan<byte> Span(Segment segment) => _bytes.AsSpan(segment.Start, segment.Length);

    internal void AddHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (_headerCount == _headers.Length)
        {
            var more = BlockPool<HeaderEntry>.Rent(Math.Max(InitialHeaderSlots, _headers.Length * 2));
            _headers.AsSpan(0, _headerCount).CopyTo(more);
            if (_headers.Length > 0)
            {
                BlockPool<HeaderEntry>.Return(_headers);
            }

            _headers = more;
        }

        KnownHeader kind = KnownHeaders.Lookup(name);
        _headers[_headerCount++] = new HeaderEntry
        {
            Name = Append(name),
            Value = Append(value),
            Kind = kind,
            HopByHop = KnownHeaders.IsFixedHopByHop(kind),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref HeaderEntry Entry(int i)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)_headerCount, nameof(i));
        return ref _headers[i];
    }

    private void Grow(int needed)
    {
        int size = Math.Max(BlockPool<byte>.Length, _bytes.Length);
        while (size < needed)
        {
            size *= 2;
        }

        byte[] bigger = BlockPool<byte>.Rent(size);
        _bytes.AsSpan(0, _used).CopyTo(bigger);
        if (_bytes.Length > 0)
        {
            BlockPool<byte>.Return(_bytes);
        }

        _bytes = bigger;
    }

    /// <summary>
    /// What the header section says about framing and the connection, computed in one pass. Also marks the
    /// headers listed in Connection as hop-by-hop (RFC 9110 7.6.1).
    /// </summary>
    internal bool AnalyzeHeaders(out HeaderFacts facts, out Http1Error error)
    {
        facts = default;
        facts.FirstHost = -1;
        facts.FirstUpgrade = -1;
        for (int i = 0; i < _headerCount; i++)
        {
            ref HeaderEntry entry = ref _headers[i];
            ReadOnlySpan<byte> value = Span(entry.Value);
            switch (entry.Kind)
            {
                case KnownHeader.Host:
                    if (facts.HostCount++ == 0)
                    {
                        facts.FirstHost = i;
                    }

                    break;
                case KnownHeader.ContentLength:
                    if (!ReadContentLength(value, ref facts, out error))
                    {
                        return false;
                    }

                    break;
                case KnownHeader.TransferEncoding:
                    ReadTransferCodings(value, ref facts);
                    break;
                case KnownHeader.Connection:
                    if (!ReadConnection(value, ref facts))
                    {
                        error = Http1Errors.BadConnection;
                        return false;
                    }

                    break;
                case KnownHeader.Upgrade:
                    if (facts.FirstUpgrade < 0)
                    {
                        facts.FirstUpgrade = i;
                    }

                    break;
                case KnownHeader.Expect:
                    if (KnownHeaders.Is(value, "100-continue"u8))
                    {
                        facts.ExpectContinue = true;
                    }
                    else if (!value.IsEmpty)
                    {
                        facts.ExpectOther = true;
                    }

                    break;
                case KnownHeader.TE:
                    facts.TeTrailers |= ListsTrailers(value);
                    break;
                default:
                    break;
            }
        }

        error = default;
        return true;
    }

    internal void SetMessageFacts(bool isHttp11, BodyFraming framing, long contentLength, bool keepAlive, bool isUpgrade, int upgradeHeader, int headLength)
    {
        _isHttp11 = isHttp11;
        _framing = framing;
        _contentLength = framing == BodyFraming.ContentLength ? contentLength : 0;
        _keepAlive = keepAlive;
        _isUpgrade = isUpgrade;
        _upgradeValue = isUpgrade && upgradeHeader >= 0 ? _headers[upgradeHeader].Value : default;
        _headLength = headLength;
    }

    internal Segment HeaderValueSegment(int i) => _headers[i].Value;

    /// <summary>Content-Length = 1*DIGIT (RFC 9110 8.6); a list or repeats are accepted only when all values are equal.</summary>
    private static bool ReadContentLength(ReadOnlySpan<byte> value, ref HeaderFacts facts, out Http1Error error)
    {
        var list = new ListReader(value);
        while (list.TryNext(out ReadOnlySpan<byte> element))
        {
            if (!TryParseDigits(element, out long length))
            {
                error = Http1Errors.BadContentLength;
                return false;
            }

            if (facts.ContentLengthCount++ > 0 && length != facts.ContentLength)
            {
                error = Http1Errors.ConflictingContentLength;
                return false;
            }

            facts.ContentLength = length;
        }

        error = default;
        return true;
    }

    private static bool TryParseDigits(ReadOnlySpan<byte> digits, out long result)
    {
        result = 0;
        if (digits.IsEmpty || digits.ContainsAnyExcept(HttpChars.Digit))
        {
            return false;
        }

        foreach (byte d in digits)
        {
            if (result > (long.MaxValue - 9) / 10)
            {
                return false;
            }

            result = (result * 10) + (d - '0');
        }

        return true;
    }

    /// <summary>transfer-coding list (RFC 9112 6.1); empty list elements are ignored (RFC 9110 5.6.1).</summary>
    private static void ReadTransferCodings(ReadOnlySpan<byte> value, ref HeaderFacts facts)
    {
        facts.TransferEncodingCount++;
        var list = new ListReader(value);
        while (list.TryNext(out ReadOnlySpan<byte> coding))
        {
            if (coding.IsEmpty)
            {
                continue;
            }

            // A coding with parameters ("gzip;q=1") is still an unsupported coding; anything that is not a token is malformed.
            int semicolon = coding.IndexOf((byte)';');
            ReadOnlySpan<byte> name = semicolon < 0 ? coding : HttpChars.TrimOws(coding[..semicolon]);
            if (name.IsEmpty || name.ContainsAnyExcept(HttpChars.Token))
            {
                facts.MalformedCoding = true;
            }
            else if (KnownHeaders.Is(name, "chunked"u8))
            {
                if (semicolon >= 0)
                {
                    facts.MalformedCoding = true;
                }

                facts.ChunkedCount++;
            }
            else
            {
                facts.OtherCodingCount++;
            }
        }
    }

    /// <summary>
    /// Connection = #connection-option (RFC 9110 7.6.1). "close", "keep-alive" and "upgrade" set flags; every
    /// option names a header that must not be forwarded. Host and Content-Length are never dropped this way:
    /// dropping Content-Length while forwarding the body would let a client smuggle a second request.
    /// </summary>
    private bool ReadConnection(ReadOnlySpan<byte> value, ref HeaderFacts facts)
    {
        var list = new ListReader(value);
        while (list.TryNext(out ReadOnlySpan<byte> option))
        {
            if (option.IsEmpty)
            {
                continue;
            }

            if (option.ContainsAnyExcept(HttpChars.Token))
            {
                return false;
            }

            if (KnownHeaders.Is(option, "close"u8))
            {
                facts.ConnectionClose = true;
            }
            else if (KnownHeaders.Is(option, "keep-alive"u8))
            {
                facts.ConnectionKeepAlive = true;
            }
            else if (KnownHeaders.Is(option, "upgrade"u8))
            {
                facts.ConnectionUpgrade = true;
            }

            KnownHeader kind = KnownHeaders.Lookup(option);
            if (kind is KnownHeader.Host or KnownHeader.ContentLength || KnownHeaders.IsFixedHopByHop(kind))
            {
                continue;
            }

            for (int i = 0; i < _headerCount; i++)
            {
                ref HeaderEntry entry = ref _headers[i];
                if (kind != KnownHeader.None ? entry.Kind == kind : KnownHeaders.Is(Span(entry.Name), option))
                {
                    entry.HopByHop = true;
                }
            }
        }

        return true;
    }

    /// <summary>TE = #t-codings; "trailers" says the client accepts trailer fields (RFC 9110 10.1.4).</summary>
    private static bool ListsTrailers(ReadOnlySpan<byte> value)
    {
        var list = new ListReader(value);
        while (list.TryNext(out ReadOnlySpan<byte> element))
        {
            int semicolon = element.IndexOf((byte)';');
            if (KnownHeaders.Is(semicolon < 0 ? element : HttpChars.TrimOws(element[..semicolon]), "trailers"u8))
            {
                return true;
            }
        }

        return false;
    }

    private struct HeaderEntry
    {
        public Segment Name;
        public Segment Value;
        public KnownHeader Kind;
        public bool HopByHop;
    }
}

/// <summary>Where a piece of the head lives in the owned buffer.</summary>
internal readonly record struct Segment(int Start, int Length);

/// <summary>What one pass over the header section found.</summary>
internal struct HeaderFacts
{
    public int HostCount;
    public int FirstHost;
    public int FirstUpgrade;
    public int ContentLengthCount;
    public long ContentLength;
    public int TransferEncodingCount;
    public int ChunkedCount;
    public int OtherCodingCount;
    public bool MalformedCoding;
    public bool ConnectionClose;
    public bool ConnectionKeepAlive;
    public bool ConnectionUpgrade;
    public bool ExpectContinue;
    public bool ExpectOther; // an Expect other than 100-continue
    public bool TeTrailers;

    /// <summary>RFC 9112 9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".</summary>
    public readonly bool KeepAlive(bool isHttp11) => !ConnectionClose && (isHttp11 || ConnectionKeepAlive);

    /// <summary>Transfer-Encoding is exactly one "chunked" across all its lines.</summary>
    public readonly bool IsExactlyChunked => ChunkedCount == 1 && OtherCodingCount == 0 && !MalformedCoding;
}
