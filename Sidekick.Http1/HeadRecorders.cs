namespace Sidekick.Http1;

/// <summary>Handler that records a request head into a <see cref="RequestHead"/>.</summary>
internal readonly struct RequestHeadRecorder(RequestHead head) : IHttpHeadHandler
{
    private readonly RequestHead _head = head;

    public bool OnRequestLine(ReadOnlySpan<byte> method, ReadOnlySpan<byte> target, bool isHttp11, out Http1Error error)
    {
        _head.IsHttp11Pending = isHttp11;
        return _head.SetRequestLine(method, target, out error);
    }

    public bool OnStatusLine(bool isHttp11, int statusCode, ReadOnlySpan<byte> reason, out Http1Error error)
    {
        error = Http1Errors.BadRequestLine;
        return false;
    }

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => _head.AddHeader(name, value);

    public bool OnHeadersComplete(int headLength, out Http1Error error) => _head.Complete(_head.IsHttp11Pending, headLength, out error);
}

/// <summary>Handler that records a response head into a <see cref="ResponseHead"/>.</summary>
internal readonly struct ResponseHeadRecorder(ResponseHead head, HttpMethodKind requestMethod) : IHttpHeadHandler
{
    private readonly ResponseHead _head = head;
    private readonly HttpMethodKind _requestMethod = requestMethod;

    public bool OnRequestLine(ReadOnlySpan<byte> method, ReadOnlySpan<byte> target, bool isHttp11, out Http1Error error)
    {
        error = Http1Errors.BadStatusLine;
        return false;
    }

    public bool OnStatusLine(bool isHttp11, int statusCode, ReadOnlySpan<byte> reason, out Http1Error error)
    {
        _head.IsHttp11Pending = isHttp11;
        _head.SetStatusLine(statusCode, reason);
        error = default;
        return true;
    }

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => _head.AddHeader(name, value);

    public bool OnHeadersComplete(int headLength, out Http1Error error) =>
        _head.Complete(_head.IsHttp11Pending, _requestMethod, headLength, out error);
}
