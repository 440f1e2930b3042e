using System.Text;
using System.Text.Json.Nodes;

namespace KubeletPS.TestCluster.Storage;

/// <summary>
/// Reads a CertificateSigningRequest sent as application/vnd.kubernetes.protobuf, as client-go's typed clients send
/// writes (kubectl certificate approve/deny PUT /approval so). Only what an approval or status update carries is read:
/// metadata name, uid and resourceVersion, and status.conditions (k8s.io/api/certificates/v1/generated.proto); the
/// envelope is the "k8s\0" magic and a runtime.Unknown whose field 2 holds the object.
/// </summary>
public static class ProtobufCertificateSigningRequest
{
    public const string ContentType = "application/vnd.kubernetes.protobuf";
    private static readonly byte[] Magic = [0x6b, 0x38, 0x73, 0x00];

    public static JsonObject Decode(byte[] body)
    {
        if (body.Length < Magic.Length || !body.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw ApiException.BadRequest("protobuf body does not start with the k8s envelope magic");
        byte[]? raw = null;
        foreach (var (field, value) in Fields(body.AsMemory(Magic.Length)))
            if (field == 2) raw = value.ToArray();
        if (raw is null) throw ApiException.BadRequest("protobuf envelope holds no object");
        var metadata = new JsonObject();
        var conditions = new JsonArray();
        foreach (var (field, value) in Fields(raw))
        {
            if (field == 1)
            {
                foreach (var (f, v) in Fields(value))
                {
                    var key = f switch { 1 => "name", 5 => "uid", 6 => "resourceVersion", _ => null };
                    if (key is not null) metadata[key] = Encoding.UTF8.GetString(v.Span);
                }
            }
            else if (field == 3)
            {
                foreach (var (f, v) in Fields(value))
                    if (f == 1) conditions.Add(Condition(v));
            }
        }
        return new JsonObject
        {
            ["apiVersion"] = "certificates.k8s.io/v1",
            ["kind"] = "CertificateSigningRequest",
            ["metadata"] = metadata,
            ["status"] = new JsonObject { ["conditions"] = conditions },
        };
    }

    private static JsonObject Condition(ReadOnlyMemory<byte> message)
    {
        var condition = new JsonObject();
        foreach (var (f, v) in Fields(message))
        {
            switch (f)
            {
                case 1: condition["type"] = Encoding.UTF8.GetString(v.Span); break;
                case 2: condition["reason"] = Encoding.UTF8.GetString(v.Span); break;
                case 3: condition["message"] = Encoding.UTF8.GetString(v.Span); break;
                case 6: condition["status"] = Encoding.UTF8.GetString(v.Span); break;
                case 4 or 5:
                    long seconds = 0;
                    foreach (var (tf, tv) in Fields(v))
                        if (tf == 1) seconds = (long)ReadVarint(tv.Span, out _);
                    condition[f == 4 ? "lastUpdateTime" : "lastTransitionTime"] = ObjectStore.FormatTime(DateTimeOffset.FromUnixTimeSeconds(seconds));
                    break;
            }
        }
        return condition;
    }

    /// <summary>The fields of one message: length-delimited values as their bytes, varints as their encoded bytes.</summary>
    private static List<(int Field, ReadOnlyMemory<byte> Value)> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<(int, ReadOnlyMemory<byte>)>();
        var position = 0;
        while (position < message.Length)
        {
            var tag = ReadVarint(message.Span[position..], out var used);
            position += used;
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    ReadVarint(message.Span[position..], out used);
                    fields.Add((field, message.Slice(position, used)));
                    position += used;
                    break;
                case 2:
                    var length = (int)ReadVarint(message.Span[position..], out used);
                    position += used;
                    if (length < 0 || position + length > message.Length) throw ApiException.BadRequest("truncated protobuf field");
                    fields.Add((field, message.Slice(position, length)));
                    position += length;
                    break;
                case 1: position += 8; break;
                case 5: position += 4; break;
                default: throw ApiException.BadRequest($"unsupported protobuf wire type {tag & 7}");
            }
        }
        return fields;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, out int used)
    {
        ulong value = 0;
        for (used = 0; used < data.Length && used < 10; used++)
        {
            value |= (ulong)(data[used] & 0x7f) << (7 * used);
            if ((data[used] & 0x80) == 0)
            {
                used++;
                return value;
            }
        }
        throw ApiException.BadRequest("truncated protobuf varint");
    }
}
