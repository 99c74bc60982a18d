using System.Buffers;

namespace Sidekick.Http1;

/// <summary>Parses and validates message heads (RFC 9112).</summary>
public static class Http1Parser
{
    /// <summary>
    /// Parses a request head at the start of <paramref name="buffer"/>. Incomplete: consumed = buffer.Start.
    /// Complete: consumed is just after the blank line. Error: <paramref name="error"/> says the status.
    /// When incomplete and the buffer already exceeds a limit, returns Error (414/431).
    /// </summary>
    public static ParseStatus TryParseRequest(in ReadOnlySequence<byte> buffer, RequestHead head, Http1Limits limits, out SequencePosition consumed, out Http1Error error)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(limits);
        head.Reset();
        var reader = new SequenceReader<byte>(buffer);
        var recorder = new RequestHeadRecorder(head);
        ParseStatus status = HeadParser.Parse(ref reader, ref recorder, isRequest: true, limits, out error);
        consumed = status == ParseStatus.Complete ? reader.Position : buffer.Start;
        return status;
    }

    /// <summary>Parses a response head; <paramref name="requestMethod"/> decides framing (HEAD => no body). Errors carry 502.</summary>
    public static ParseStatus TryParseResponse(in ReadOnlySequence<byte> buffer, ResponseHead head, HttpMethodKind requestMethod, Http1Limits limits, out SequencePosition consumed, out Http1Error error)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(limits);
        head.Reset();
        var reader = new SequenceReader<byte>(buffer);
        var recorder = new ResponseHeadRecorder(head, requestMethod);
        ParseStatus status = HeadParser.Parse(ref reader, ref recorder, isRequest: false, limits, out error);
        if (status == ParseStatus.Error)
        {
            error = Http1Errors.AsResponseError(error);
        }

        consumed = status == ParseStatus.Complete ? reader.Position : buffer.Start;
        return status;
    }
}
