using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace KubeletPS.Core.Systemd;

/// <summary>
/// Writes entries to journald through its native protocol (systemd's "Native Journal Protocol"):
/// one datagram per entry on /run/systemd/journal/socket, each field "KEY=value\n", or for a value
/// holding a line break "KEY\n", its length as a little-endian 64-bit integer, the bytes and "\n".
/// Field names are upper-case letters, digits and '_' and do not start with '_' (journald sets those).
/// </summary>
public sealed class JournalWriter : IDisposable
{
    /// <summary>journald's native socket.</summary>
    public const string DefaultSocketPath = "/run/systemd/journal/socket";

    private readonly Socket _socket;
    private readonly UnixDomainSocketEndPoint _endpoint;

    public JournalWriter(string socketPath = DefaultSocketPath)
    {
        SocketPath = socketPath;
        _endpoint = new UnixDomainSocketEndPoint(socketPath);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    public string SocketPath { get; }

    /// <summary>
    /// Whether the agent should log to the journal: systemd started it with its output connected to
    /// journald (JOURNAL_STREAM, systemd.exec(5)) and the native socket exists.
    /// </summary>
    public static bool ConnectedToJournal(Func<string, string?> environment, string socketPath = DefaultSocketPath) =>
        !string.IsNullOrEmpty(environment("JOURNAL_STREAM")) && File.Exists(socketPath);

    /// <summary>Sends one entry.</summary>
    /// <exception cref="KubeletException">A field name is not one journald accepts, or journald cannot be reached.</exception>
    public void Write(IEnumerable<KeyValuePair<string, string>> fields)
    {
        var datagram = Serialize(fields);
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, _endpoint);
        }
        catch (SocketException e)
        {
            throw new KubeletException($"cannot write to the journal at {SocketPath}: {e.Message}", KubeletErrorKind.Connection, SocketPath, e);
        }
    }

    /// <summary>One entry in the native protocol's bytes.</summary>
    /// <exception cref="KubeletException">A field name is not one journald accepts.</exception>
    public static byte[] Serialize(IEnumerable<KeyValuePair<string, string>> fields)
    {
        using var buffer = new MemoryStream();
        Span<byte> length = stackalloc byte[8];
        foreach (var (name, value) in fields)
        {
            ValidateFieldName(name);
            var key = Encoding.ASCII.GetBytes(name);
            var bytes = Encoding.UTF8.GetBytes(value);
            buffer.Write(key);
            if (value.Contains('\n', StringComparison.Ordinal))
            {
                buffer.WriteByte((byte)'\n');
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)bytes.Length);
                buffer.Write(length);
            }
            else
            {
                buffer.WriteByte((byte)'=');
            }
            buffer.Write(bytes);
            buffer.WriteByte((byte)'\n');
        }
        return buffer.ToArray();
    }

    /// <summary>journald's rule (journal_field_valid): 1-64 of A-Z, 0-9 and '_', not starting with a digit or '_'.</summary>
    /// <exception cref="KubeletException">The name breaks it.</exception>
    public static void ValidateFieldName(string name)
    {
        var valid = name.Length is > 0 and <= 64 && name[0] is not ('_' or (>= '0' and <= '9'))
            && name.All(c => c is (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_');
        if (!valid)
            throw new KubeletException($"\"{name}\" is not a journal field name (1-64 of A-Z, 0-9 and '_', not starting with '_' or a digit).", KubeletErrorKind.InvalidArgument, name);
    }

    public void Dispose() => _socket.Dispose();
}
