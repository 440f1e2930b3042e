using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using k8s.Models;
using KubeletPS.Core.Configuration.Yaml;
using KubeletPS.Core.Pods.Validation;

namespace KubeletPS.Core.Pods.Config;

/// <summary>
/// Static pods from a folder (staticPodPath), as kubelet's file source: one pod per file (YAML
/// or JSON), hidden files ignored, re-read on every change and every fileCheckFrequency. Each
/// pod is defaulted as kubelet does: name suffixed with the node name, namespace "default",
/// a UID hashed from node, file and content, spec.nodeName set, tolerating NoExecute taints.
/// A bad file is reported with its path and line and skipped; the other pods are unaffected.
/// </summary>
public sealed class StaticPodSource(string directory, string nodeName, TimeSpan fileCheckFrequency, TimeProvider? time = null) : IPodSource
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public string Name => "file";

    public string Directory => directory;

    /// <summary>
    /// How long after its last write a manifest that does not parse is taken to be still being
    /// written (an editor or a copy part-way through): not reported yet, and the pod it held
    /// before is kept, until it parses or this long has passed.
    /// </summary>
    internal static readonly TimeSpan SettleWindow = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A file written to less than this long ago is not read yet (a writer part-way through can leave
    /// a prefix that is a valid pod, but the wrong one); the folder is read again shortly.
    /// </summary>
    internal static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(30);

    private static readonly TimeSpan SettleRetry = TimeSpan.FromMilliseconds(50);

    public async IAsyncEnumerable<PodSourceSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        using var watcher = ManifestFolderWatcher.Start(directory, () => changes.Writer.TryWrite(true));
        _watcher = watcher;
        string? last = null;
        var podsByFile = new Dictionary<string, V1Pod>(StringComparer.Ordinal);
        var woken = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            // Read as soon as something changed (kubelet reads a file on its inotify event): a file
            // still being written is held back by Read rather than the whole folder waiting. On a
            // change, files not written since they were last read are not parsed again; every
            // fileCheckFrequency, and while a file settles, all are.
            var snapshot = Read(podsByFile, SettleWindow, out var settling, out var retry, reuseUnchanged: woken);
            var key = Fingerprint(snapshot);
            if (key != last)
            {
                last = key;
                yield return snapshot;
            }
            using var tick = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            tick.CancelAfter(settling ? retry : fileCheckFrequency);
            try
            {
                await changes.Reader.ReadAsync(tick.Token).ConfigureAwait(false);
                woken = true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                woken = false;
            }
        }
        _watcher = null;
    }

    /// <summary>The folder's watch while <see cref="WatchAsync"/> runs: which files their writers have closed.</summary>
    private ManifestFolderWatcher? _watcher;

    /// <summary>Each file's modification time and length when the pod in podsByFile was parsed from it.</summary>
    private readonly Dictionary<string, (DateTime Written, long Length)> _parsed = new(StringComparer.Ordinal);

    /// <summary>Reads the folder once; a manifest that does not parse is reported at once.</summary>
    public PodSourceSnapshot Read() => Read(new Dictionary<string, V1Pod>(StringComparer.Ordinal), TimeSpan.Zero, out _);

    /// <summary>
    /// Reads the folder. <paramref name="podsByFile"/> holds the pod each file gave last time and is
    /// updated. A file written less than <see cref="QuietPeriod"/> ago is not read yet, and one that
    /// does not parse and was written less than <paramref name="settleWindow"/> ago is not reported:
    /// either keeps its previous pod and sets <paramref name="settling"/>. A zero window reads everything as it is.
    /// </summary>
    internal PodSourceSnapshot Read(Dictionary<string, V1Pod> podsByFile, TimeSpan settleWindow, out bool settling)
        => Read(podsByFile, settleWindow, out settling, out _, reuseUnchanged: false);

    /// <summary>
    /// As <see cref="Read(Dictionary{string, V1Pod}, TimeSpan, out bool)"/>; <paramref name="retry"/> is when to read
    /// again while settling: as soon as the youngest file held back for <see cref="QuietPeriod"/> is old enough,
    /// else <see cref="SettleRetry"/> (a file that does not parse yet).
    /// </summary>
    private PodSourceSnapshot Read(Dictionary<string, V1Pod> podsByFile, TimeSpan settleWindow, out bool settling, out TimeSpan retry, bool reuseUnchanged)
    {
        retry = SettleRetry;
        var holding = false;
        var pods = new List<V1Pod>();
        var errors = new List<PodSourceError>();
        var seen = new Dictionary<string, V1Pod>(StringComparer.Ordinal);
        if (System.IO.Directory.Exists(directory))
        {
            var names = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in System.IO.Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
            {
                if (Path.GetFileName(file).StartsWith('.')) continue;
                V1Pod? pod = null;
                var hold = false; // still being written: the file's previous pod, if any, stands for it
                try
                {
                    var stamp = Stamp(file);
                    if (reuseUnchanged && stamp is { } now && _parsed.TryGetValue(file, out var then) && then == now && podsByFile.TryGetValue(file, out var unchanged))
                    {
                        pod = unchanged;
                    }
                    else if (settleWindow > TimeSpan.Zero && WrittenWithin(file, QuietPeriod) is { } quietIn
                        && !(stamp is { } written && _watcher?.IsComplete(file, written.Written) == true))
                    {
                        hold = true;
                        if (quietIn < retry) retry = quietIn;
                    }
                    else
                    {
                        pod = ReadPod(file);
                        if (stamp is { } parsedAt) _parsed[file] = parsedAt;
                    }
                }
                catch (Exception e) when (e is KubeletConfigException or IOException)
                {
                    if (settleWindow > TimeSpan.Zero && WrittenWithin(file, settleWindow) is not null) hold = true;
                    else
                    {
                        var changed = LastWrite(file);
                        errors.Add(e is KubeletConfigException bad
                            ? new PodSourceError(Name, bad.Message, file, bad.Line, bad.Field, changed)
                            : new PodSourceError(Name, $"{file}: {e.Message}", file, Changed: changed));
                        continue;
                    }
                }
                if (hold)
                {
                    holding = true;
                    pod = podsByFile.GetValueOrDefault(file);
                }
                if (pod is null) continue; // held back, and no pod from it before
                var key = $"{pod.Namespace()}/{pod.Name()}";
                if (names.TryGetValue(key, out var first))
                {
                    errors.Add(new PodSourceError(Name, $"pod {key} is a duplicate of the one in {first}; ignored.", file));
                    continue;
                }
                names[key] = file;
                seen[file] = pod;
                pods.Add(pod);
            }
        }
        podsByFile.Clear();
        foreach (var (file, pod) in seen) podsByFile[file] = pod;
        foreach (var file in _parsed.Keys.Where(f => !seen.ContainsKey(f)).ToList()) _parsed.Remove(file);
        settling = holding;
        return new PodSourceSnapshot(Name, pods, errors, holding);
    }

    private static DateTime? LastWrite(string file)
    {
        try
        {
            return File.GetLastWriteTimeUtc(file);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The file's modification time and length; null when it cannot be read.</summary>
    private static (DateTime Written, long Length)? Stamp(string file)
    {
        try
        {
            var info = new FileInfo(file);
            return info.Exists ? (info.LastWriteTimeUtc, info.Length) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>How long until the file was last written <paramref name="window"/> ago (at least 1 ms); null when it was longer ago.</summary>
    private static TimeSpan? WrittenWithin(string file, TimeSpan window)
    {
        try
        {
            // The file system's clock, not the agent's TimeProvider: modification times are wall-clock.
            var left = window - (DateTime.UtcNow - File.GetLastWriteTimeUtc(file));
            return left <= TimeSpan.Zero ? null : left < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : left;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public V1Pod ReadPod(string file) => DecodePod(BoundedYaml.ReadFile(file, YamlBounds.Manifest), file);

    /// <summary>The pod a manifest's text gives, as read from <paramref name="file"/>: decoded, defaulted, validated (kubelet's tryDecodeSinglePod).</summary>
    public V1Pod DecodePod(string text, string file)
    {
        var document = ManifestReader.ReadDocument<V1Pod>(text, file, Cm.QuantityValues.CapPodQuantities);
        var (pod, unknown) = (document.Object, document.UnknownFields);
        if (unknown.Count > 0)
        {
            var u = unknown[0];
            throw new KubeletConfigException($"{u.Message}{(unknown.Count > 1 ? $" (and {unknown.Count - 1} more)" : "")}; the pod is not started.",
                file, u.Line, u.Column, u.Field);
        }
        if (pod.Kind is not null and not "Pod" || pod.ApiVersion is not null and not "v1")
        {
            throw new KubeletConfigException($"kind {pod.Kind ?? "(none)"} apiVersion {pod.ApiVersion ?? "(none)"} is not a Pod; expected kind: Pod, apiVersion: v1.", file, field: "kind");
        }
        if (string.IsNullOrEmpty(pod.Metadata?.Name))
        {
            throw new KubeletConfigException("metadata.name is required.", file, field: "metadata.name");
        }
        if (pod.Spec?.Containers is not { Count: > 0 })
        {
            throw new KubeletConfigException("spec.containers must list at least one container.", file, field: "spec.containers");
        }
        // As kubelet's file source (tryDecodeSinglePod): defaults first, then the API server's validation.
        ApplyDefaults(pod, file, text);
        PodValidation.Validate(pod, file, field => document.Locate(field));
        return pod;
    }

    private void ApplyDefaults(V1Pod pod, string file, string content)
    {
        pod.ApiVersion = "v1";
        pod.Kind = "Pod";
        var meta = pod.Metadata;
        if (string.IsNullOrEmpty(meta.Uid))
        {
            var hash = MD5.HashData(Encoding.UTF8.GetBytes($"host:{nodeName}file:{file}{content}"));
            meta.Uid = Convert.ToHexString(hash).ToLowerInvariant();
        }
        meta.Name = $"{meta.Name}-{nodeName.ToLowerInvariant()}";
        if (string.IsNullOrEmpty(meta.NamespaceProperty)) meta.NamespaceProperty = "default";
        meta.Annotations ??= new Dictionary<string, string>();
        meta.Annotations[PodAnnotations.ConfigHash] = meta.Uid;
        meta.Annotations[PodAnnotations.ConfigSource] = Name;
        pod.Spec.NodeName = nodeName;
        pod.Spec.Tolerations ??= [];
        pod.Spec.Tolerations.Add(new V1Toleration { OperatorProperty = "Exists", Effect = "NoExecute" });
        PodDefaults.Apply(pod);
    }

    private static string Fingerprint(PodSourceSnapshot snapshot) =>
        string.Join("\n", snapshot.Pods.Select(p => p.Metadata.Uid + p.Metadata.Name))
        + "\n" + string.Join("\n", snapshot.Errors.Select(e => $"{e.Message} {e.Changed?.Ticks}")) + (snapshot.Settling ? "\nsettling" : "");
}
