using System.Text;

namespace KubeletPS.Core.Certificates;

/// <summary>One "-----BEGIN LABEL-----" … "-----END LABEL-----" block of a PEM file (RFC 7468).</summary>
internal sealed record PemBlock(int Number, string Label, int Line, IReadOnlyDictionary<string, string> Headers, byte[] Der)
{
    /// <summary>How messages name the block: "block 2 (EC PRIVATE KEY, line 21)".</summary>
    public string Describe() => $"block {Number} ({Label}, line {Line})";

    /// <summary>
    /// Legacy OpenSSL encryption ("Proc-Type: 4,ENCRYPTED" + "DEK-Info") inside a traditional
    /// key block, or a PKCS#8 "ENCRYPTED PRIVATE KEY".
    /// </summary>
    public bool IsEncryptedKey =>
        Label == "ENCRYPTED PRIVATE KEY"
        || (Headers.TryGetValue("Proc-Type", out var procType) && procType.Contains("ENCRYPTED", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Splits PEM text into blocks. Text outside blocks is ignored (openssl writes
    /// "Bag Attributes" and "subject=" lines there). A block that does not end, or whose body
    /// is not base64, is an error naming the block; the message never quotes the body.
    /// </summary>
    public static IReadOnlyList<PemBlock> Parse(byte[] content, string source, Func<string, bool> isKeyLabel)
    {
        var text = Encoding.UTF8.GetString(content);
        var lines = text.Split('\n');
        var blocks = new List<PemBlock>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (!line.StartsWith("-----BEGIN ", StringComparison.Ordinal) || !line.EndsWith("-----", StringComparison.Ordinal)) continue;
            var label = line["-----BEGIN ".Length..^"-----".Length];
            var start = i + 1; // 1-based line number of the BEGIN line
            var number = blocks.Count + 1;
            var problem = isKeyLabel(label) ? CertificateProblem.KeyUnreadable : CertificateProblem.CertificateUnreadable;
            var end = $"-----END {label}-----";
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var body = new StringBuilder();
            var inHeaders = true;
            var closed = false;
            for (i++; i < lines.Length; i++)
            {
                var current = lines[i].Trim();
                if (current == end) { closed = true; break; }
                if (current.StartsWith("-----", StringComparison.Ordinal)) break;
                if (inHeaders)
                {
                    var colon = current.IndexOf(':');
                    if (colon > 0) { headers[current[..colon].Trim()] = current[(colon + 1)..].Trim(); continue; }
                    inHeaders = false;
                    if (current.Length == 0) continue;
                }
                body.Append(current);
            }
            if (!closed)
            {
                throw new CertificateException(problem, source,
                    $"block {number} ({label}, line {start}) has no '{end}' line; the file is truncated or not PEM.");
            }
            var block = new PemBlock(number, label, start, headers, []);
            if (block.IsEncryptedKey)
            {
                // Encrypted bodies are opaque; do not decode them.
                blocks.Add(block);
                continue;
            }
            byte[] der;
            try
            {
                der = Convert.FromBase64String(body.ToString());
            }
            catch (FormatException)
            {
                throw new CertificateException(problem, source, $"{block.Describe()} is not valid base64.");
            }
            if (der.Length == 0)
            {
                throw new CertificateException(problem, source, $"{block.Describe()} is empty.");
            }
            blocks.Add(block with { Der = der });
        }
        return blocks;
    }
}
