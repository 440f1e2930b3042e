using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace KubeletPS.Core.Configuration.Yaml;

/// <summary>
/// How much one YAML file may hold: bytes, nesting depth, and (fixed, as go-yaml) how much of the
/// document may come from alias expansion.
/// </summary>
/// <param name="MaxBytes">The largest file read; a larger one is refused before it is read.</param>
/// <param name="MaxDepth">The deepest nesting of lists and mappings.</param>
public sealed record YamlBounds(long MaxBytes, int MaxDepth)
{
    /// <summary>
    /// go-yaml's scanner refuses nesting above 10000 ("exceeded max depth of 10000"), relying on Go's
    /// growable stacks. Every reader here (YamlDotNet's representation model, the YAML → JSON conversion,
    /// System.Text.Json's writer) recurses once per level on .NET's fixed thread stacks (1.5 MiB for a
    /// thread-pool thread), and System.Text.Json's writer itself stops at 1000 levels; so 1000, far above
    /// any Kubernetes object (a pod spec nests about 15 levels).
    /// </summary>
    public const int DefaultMaxDepth = 1000;

    /// <summary>
    /// A static pod manifest: the API server refuses a request body over 3 MiB
    /// (apiserver's MaxRequestBodyBytes, 3 * 1024 * 1024), so no pod it would take is larger.
    /// </summary>
    public static readonly YamlBounds Manifest = new(3L * 1024 * 1024, DefaultMaxDepth);

    /// <summary>config.yaml and kubeconfigs: a few KiB in practice, with embedded certificates tens of KiB.</summary>
    public static readonly YamlBounds ConfigFile = new(1L * 1024 * 1024, DefaultMaxDepth);

    internal string Describe() => BoundedFile.DescribeSize(MaxBytes);
}

/// <summary>
/// Reads YAML files within <see cref="YamlBounds"/>: regular files only, the size checked before reading (at most one
/// byte more than the limit is read), and the parser's events are checked as they arrive, before
/// YamlDotNet builds any node from them: nesting depth, and go-yaml v3's alias ratio (decode.go
/// <c>allowedAliasRatio</c>: once more than 100 nodes came from aliases and more than 1000 were
/// produced, at most 99 % may come from aliases up to 400 000 nodes, scaling down to 10 % at 4 000 000).
/// A refused file is a <see cref="KubeletConfigException"/> with its path and the line of the alias or
/// of the level that went too deep. The representation model shares an alias's node with its anchor, so
/// what is kept is the size of the text; what the bound protects is every reader that walks the tree.
/// </summary>
public static class BoundedYaml
{
    /// <summary>
    /// Reads a file's text, refusing one larger than <paramref name="bounds"/> allows before reading it whole, and
    /// anything but a regular file (a FIFO, a device) without blocking (<see cref="BoundedFile"/>).
    /// </summary>
    public static string ReadFile(string path, YamlBounds bounds)
    {
        try
        {
            return Decode(BoundedFile.ReadAllBytes(path, bounds.MaxBytes));
        }
        catch (FileRefusedException e)
        {
            throw new KubeletConfigException(e.Message, path, inner: e);
        }
    }

    /// <inheritdoc cref="ReadFile"/>
    public static Task<string> ReadFileAsync(string path, YamlBounds bounds, CancellationToken cancellationToken)
    {
        // A regular file of at most a few MiB: read at once (a FIFO or device, which could wait forever, is refused).
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(ReadFile(path, bounds));
    }

    /// <summary>
    /// Parses <paramref name="text"/> (read from <paramref name="path"/>) into a YAML stream within the
    /// bounds. YamlDotNet's own syntax errors are left to the caller (they are <see cref="YamlException"/>s).
    /// </summary>
    public static YamlStream Load(string text, string path, YamlBounds bounds)
    {
        if (Encoding.UTF8.GetByteCount(text) > bounds.MaxBytes) throw TooLarge(path, bounds);
        var stream = new YamlStream();
        stream.Load(new CheckingParser(new Parser(new StringReader(text)), path, bounds));
        return stream;
    }

    /// <summary>go-yaml v3's allowedAliasRatio.</summary>
    internal static double AllowedAliasRatio(long decodeCount)
    {
        const long low = 400_000, high = 4_000_000;
        if (decodeCount <= low) return 0.99;
        if (decodeCount >= high) return 0.10;
        return 0.99 - (0.89 * (decodeCount - low) / (high - low));
    }

    private static KubeletConfigException TooLarge(string path, YamlBounds bounds) =>
        new($"the file is larger than the limit of {bounds.Describe()}; it is not read.", path);

    private static string Decode(ReadOnlySpan<byte> bytes)
    {
        // As File.ReadAllText: UTF-8 unless a byte order mark says otherwise.
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) return Encoding.UTF8.GetString(bytes[3..]);
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE])) return Encoding.Unicode.GetString(bytes[2..]);
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF])) return Encoding.BigEndianUnicode.GetString(bytes[2..]);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Passes the parser's events through, counting what each would produce once aliases are expanded.</summary>
    private sealed class CheckingParser(IParser inner, string path, YamlBounds bounds) : IParser
    {
        // Per open list or mapping: its anchor and how many nodes it expands to so far.
        private readonly Stack<(AnchorName Anchor, long Nodes)> _open = new();
        private readonly Dictionary<string, long> _anchored = new(StringComparer.Ordinal);
        private long _decodeCount;
        private long _aliasCount;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (!inner.MoveNext()) return false;
            switch (inner.Current)
            {
                case DocumentStart:
                    _open.Clear();
                    _anchored.Clear();
                    _decodeCount = _aliasCount = 0;
                    break;
                case Scalar scalar:
                    Produced(scalar.Anchor, 1);
                    break;
                case AnchorAlias alias:
                    var nodes = _anchored.GetValueOrDefault(alias.Value.Value, 1);
                    _aliasCount += nodes;
                    Produced(AnchorName.Empty, nodes);
                    if (_aliasCount > 100 && _decodeCount > 1000 && (double)_aliasCount / _decodeCount > AllowedAliasRatio(_decodeCount))
                    {
                        throw new KubeletConfigException(
                            $"document contains excessive aliasing: alias *{alias.Value.Value} brings the document to {_decodeCount} nodes, {_aliasCount} of them from aliases.",
                            path, (int)alias.Start.Line, (int)alias.Start.Column);
                    }
                    break;
                case NodeEvent { } start and (SequenceStart or MappingStart):
                    if (_open.Count >= bounds.MaxDepth)
                    {
                        throw new KubeletConfigException($"exceeded max depth of {bounds.MaxDepth} nested lists and mappings.",
                            path, (int)start.Start.Line, (int)start.Start.Column);
                    }
                    _decodeCount++;
                    _open.Push((start.Anchor, 1));
                    break;
                case SequenceEnd or MappingEnd:
                    var (anchor, size) = _open.Pop();
                    if (!anchor.IsEmpty) _anchored[anchor.Value] = size;
                    AddToParent(size);
                    break;
            }
            return true;
        }

        /// <summary>A finished node's expanded size counts toward the list or mapping it is in (an anchor there expands to all of it).</summary>
        private void AddToParent(long nodes)
        {
            if (_open.TryPop(out var parent)) _open.Push((parent.Anchor, parent.Nodes + nodes));
        }

        private void Produced(AnchorName anchor, long nodes)
        {
            if (!anchor.IsEmpty) _anchored[anchor.Value] = nodes;
            _decodeCount += nodes;
            AddToParent(nodes);
        }
    }
}
