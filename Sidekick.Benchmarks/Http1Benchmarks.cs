using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Sidekick.Http1;

namespace Sidekick.Benchmarks;

/// <summary>
/// Parser and rewriter costs per message head. Target: 0 bytes allocated per operation once the heads'
/// buffers have grown (DESIGN.md, Performance recipe).
/// </summary>
[MemoryDiagnoser]
public class Http1Benchmarks
{
    private const string S3Get =
        "GET /photos/2024/01/IMG_0001.jpg?versionId=3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY&partNumber=1 HTTP/1.1\r\n" +
        "Host: minio.storage.svc.cluster.local:9000\r\n" +
        "User-Agent: aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.47.7\r\n" +
        "Accept-Encoding: identity\r\n" +
        "Amz-Sdk-Invocation-Id: 2f1d4a9e-6c3b-4b8e-9f1a-0d5e7c3b2a19\r\n" +
        "Amz-Sdk-Request: attempt=1; max=3\r\n" +
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;host;x-amz-content-sha256;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024\r\n" +
        "X-Amz-Content-Sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n" +
        "X-Amz-Date: 20240101T000000Z\r\n" +
        "Range: bytes=0-1048575\r\n" +
        "X-Forwarded-For: 203.0.113.7\r\n" +
        "\r\n";

    private const string S3Response =
        "HTTP/1.1 206 Partial Content\r\n" +
        "Accept-Ranges: bytes\r\n" +
        "Content-Length: 1048576\r\n" +
        "Content-Range: bytes 0-1048575/5242880\r\n" +
        "Content-Type: image/jpeg\r\n" +
        "ETag: \"5d41402abc4b2a76b9719d911017c592\"\r\n" +
        "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n" +
        "Server: MinIO\r\n" +
        "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n" +
        "Vary: Origin\r\n" +
        "X-Amz-Request-Id: 17A5D2F0C1E3B4A6\r\n" +
        "Date: Mon, 01 Jan 2024 00:00:01 GMT\r\n" +
        "\r\n";

    private static readonly byte[] PeerIp = "10.1.2.3"u8.ToArray();
    private static readonly byte[] Proto = "http"u8.ToArray();

    private readonly Http1Limits _limits = new();
    private readonly RequestHead _request = new();
    private readonly ResponseHead _response = new();
    private readonly ArrayBufferWriter<byte> _output = new(4096);
    private ReadOnlySequence<byte> _requestSingle;
    private ReadOnlySequence<byte> _requestMulti;
    private ReadOnlySequence<byte> _responseSingle;

    [GlobalSetup]
    public void Setup()
    {
        byte[] request = Encoding.ASCII.GetBytes(S3Get);
        _requestSingle = new ReadOnlySequence<byte>(request);
        _requestMulti = SplitInto(request, 64);
        _responseSingle = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(S3Response));

        // Grow the heads' buffers once, as a connection does on its first message.
        ParseRequestSingleSegment();
        ParseResponse();
        RewriteRequest();
    }

    [Benchmark(Baseline = true)]
    public int ParseRequestSingleSegment()
    {
        Http1Parser.TryParseRequest(_requestSingle, _request, _limits, out _, out _);
        return _request.HeaderCount;
    }

    [Benchmark]
    public int ParseRequestMultiSegment()
    {
        Http1Parser.TryParseRequest(_requestMulti, _request, _limits, out _, out _);
        return _request.HeaderCount;
    }

    [Benchmark]
    public int ParseResponse()
    {
        Http1Parser.TryParseResponse(_responseSingle, _response, HttpMethodKind.Get, _limits, out _, out _);
        return _response.HeaderCount;
    }

    [Benchmark]
    public int RewriteRequest()
    {
        _output.ResetWrittenCount();
        return HeadWriter.WriteRequest(_output, _request, PeerIp, PeerIp, Proto);
    }

    [Benchmark]
    public int RewriteResponse()
    {
        _output.ResetWrittenCount();
        return HeadWriter.WriteResponse(_output, _response, keepAlive: true, clientIsHttp10: false);
    }

    private static ReadOnlySequence<byte> SplitInto(byte[] bytes, int segmentSize)
    {
        var first = new Segment(bytes.AsMemory(0, Math.Min(segmentSize, bytes.Length)), 0);
        Segment last = first;
        for (int offset = segmentSize; offset < bytes.Length; offset += segmentSize)
        {
            last = last.Append(bytes.AsMemory(offset, Math.Min(segmentSize, bytes.Length - offset)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
