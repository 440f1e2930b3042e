using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s.Models;

namespace KubeletPS.Core.Api;

/// <summary>
/// Brings each huge quantity exponent in an API response to ±1000 before KubernetesClient reads it. The API server
/// takes a pod with <c>cpu: "1e99999999"</c> from anyone who may create pods (apimachinery keeps an exponent as a
/// scale, and a pod with spec.nodeName set skips the scheduler), and KubernetesClient's parse of that quantity builds
/// 10^99999999: the agent's pod list or watch never returned. Either value counts as 2^63-1 afterwards, so nothing the agent decides changes. Only the places where the object's type
/// holds a quantity are rewritten (by the object's apiVersion and kind); the same text in an env value or an
/// annotation is kept. A negative quantity with an exponent, which KubernetesClient cannot print, is given in plain
/// decimals. A body or watch line with neither is passed on as it came.
/// </summary>
public sealed class QuantityExponentHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.Content.Headers.ContentType?.MediaType is { } type && type.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            var perLine = ResponseBodyLimitHandler.IsWatch(request.RequestUri);
            response.Content = new WrappedContent(response.Content, sameLength: false, (body, ct) => Guarded(body, perLine, ct));
        }
        return response;
    }

    private static readonly Lazy<Dictionary<string, Type>> ModelsByKind = new(() =>
        typeof(V1Pod).Assembly.GetTypes()
            .Select(t => (Type: t, Entity: t.GetCustomAttribute<KubernetesEntityAttribute>()))
            .Where(e => e.Entity is { Kind: { Length: > 0 } })
            .GroupBy(e => Key(e.Entity!.Group is { Length: > 0 } g ? $"{g}/{e.Entity.ApiVersion}" : e.Entity.ApiVersion, e.Entity.Kind), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Type, StringComparer.Ordinal));

    private static string Key(string? apiVersion, string? kind) => $"{apiVersion}|{kind}";

    /// <summary>
    /// Whether <paramref name="json"/> holds an exponent of four digits or more (past ±999), a string that is a
    /// negative number with an exponent (<c>"-1e3"</c>), or a run of 19 digits or more (a number that may pass
    /// long's range, which KubernetesClient cannot print): the only cases looked at further.
    /// </summary>
    internal static bool Suspicious(ReadOnlySpan<byte> json)
    {
        if (LongDigitRun(json)) return true;
        for (var i = json.IndexOfAny((byte)'e', (byte)'E'); i >= 0; i = NextE(json, i))
        {
            if (i == 0 || !(char.IsAsciiDigit((char)json[i - 1]) || json[i - 1] == '.')) continue;
            var start = i - 1;
            while (start > 0 && (char.IsAsciiDigit((char)json[start - 1]) || json[start - 1] == '.')) start--;
            if (start >= 2 && json[start - 1] == '-' && json[start - 2] == '"') return true;
            var j = i + 1;
            if (j < json.Length && json[j] is (byte)'+' or (byte)'-') j++;
            while (j < json.Length && json[j] == '0') j++;
            var digits = 0;
            while (j + digits < json.Length && char.IsAsciiDigit((char)json[j + digits])) digits++;
            if (digits >= 4) return true;
        }
        return false;
    }

    /// <summary>A run of digits long enough to pass long's range (a quantity KubernetesClient cannot print may be there).</summary>
    private static bool LongDigitRun(ReadOnlySpan<byte> json)
    {
        var run = 0;
        foreach (var b in json)
        {
            run = b is >= (byte)'0' and <= (byte)'9' ? run + 1 : 0;
            if (run >= QuantityExponents.MaxSafeDigits) return true;
        }
        return false;
    }

    private static int NextE(ReadOnlySpan<byte> json, int i)
    {
        var next = json[(i + 1)..].IndexOfAny((byte)'e', (byte)'E');
        return next < 0 ? -1 : i + 1 + next;
    }

    /// <summary>The JSON with its quantities' exponents clamped, or the same bytes when it is not JSON or names no known kind.</summary>
    internal static byte[] Rewrite(byte[] json)
    {
        if (!Suspicious(json)) return json;
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException)
        {
            return json;
        }
        if (node is not JsonObject root) return json;
        // A watch event: {"type": "ADDED", "object": {...}}.
        var target = root["object"] is JsonObject watched && root["type"] is JsonValue ? watched : root;
        if (!ModelsByKind.Value.TryGetValue(Key(Text(target["apiVersion"]), Text(target["kind"])), out var model)) return json;
        QuantityExponents.Clamp(target, model);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static async Task<Stream> Guarded(Stream body, bool perLine, CancellationToken cancellationToken)
    {
        if (perLine) return new LineRewritingStream(body);
        await using (body.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await body.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return new MemoryStream(Rewrite(buffer.ToArray()), writable: false);
        }
    }

    /// <summary>A watch body passed on line by line as each line completes, a suspicious line rewritten.</summary>
    private sealed class LineRewritingStream(Stream inner) : Stream
    {
        private readonly byte[] _chunk = new byte[16 * 1024];
        private readonly MemoryStream _line = new();
        private byte[] _out = [];
        private int _outPosition;
        private bool _ended;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_outPosition >= _out.Length)
            {
                if (_ended) return 0;
                var read = await inner.ReadAsync(_chunk, cancellationToken).ConfigureAwait(false);
                _out = read == 0 ? End() : Lines(_chunk.AsSpan(0, read));
                _outPosition = 0;
            }
            var count = Math.Min(buffer.Length, _out.Length - _outPosition);
            _out.AsMemory(_outPosition, count).CopyTo(buffer);
            _outPosition += count;
            return count;
        }

        private byte[] End()
        {
            _ended = true;
            var rest = Rewrite(_line.ToArray());
            _line.SetLength(0);
            return rest;
        }

        private byte[] Lines(ReadOnlySpan<byte> chunk)
        {
            using var produced = new MemoryStream();
            while (chunk.IndexOf((byte)'\n') is var newline and >= 0)
            {
                _line.Write(chunk[..newline]);
                produced.Write(Rewrite(_line.ToArray()));
                produced.WriteByte((byte)'\n');
                _line.SetLength(0);
                chunk = chunk[(newline + 1)..];
            }
            _line.Write(chunk);
            return produced.ToArray();
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                _line.Dispose();
            }
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
