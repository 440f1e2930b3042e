using KubeletPS.Core.Node;

namespace KubeletPS.Core.Runtime;

/// <summary>The node status's view of the runtime: the CRI Version, Status and ListImages calls, errors kept as reasons.</summary>
public sealed class CriRuntimeHealthSource(IRuntimeService runtime, IImageService imageService) : IRuntimeHealthSource
{
    public async Task<RuntimeHealth> GetHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            var version = await runtime.VersionAsync(cancellationToken).ConfigureAwait(false);
            var status = await runtime.StatusAsync(cancellationToken).ConfigureAwait(false);
            var images = await imageService.ListImagesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            var notReady = status.Conditions.Where(c => !c.Status)
                .Select(c => $"{c.Type}=false reason:{c.Reason} message:{c.Message}").ToList();
            return new RuntimeHealth
            {
                Reachable = true,
                RuntimeReady = status.RuntimeReady,
                NetworkReady = status.NetworkReady,
                RuntimeName = version.RuntimeName,
                RuntimeVersion = version.RuntimeVersion,
                Message = notReady.Count == 0 ? null : string.Join(", ", notReady),
                Images = images.Select(i => ((IReadOnlyList<string>)i.RepoDigests.Concat(i.RepoTags).ToList(), (long)i.Size)).ToList(),
            };
        }
        catch (KubeletRuntimeException e)
        {
            return RuntimeHealth.Unreachable(e.Message);
        }
    }
}
