using System.Text.RegularExpressions;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>
/// Kubelet's FailedMount event for a volume that cannot be set up (the volume manager's operation
/// executor: <c>MountVolume.SetUp failed for volume "NAME" : ERROR</c>). <see cref="PodVolumes"/>
/// names the volume at the start of its errors (<c>volume "NAME": ERROR</c>); this turns that into
/// kubelet's wording.
/// </summary>
public static partial class VolumeSetUpErrors
{
    public static string FailedMountMessage(string error)
    {
        var named = NamedVolume().Match(error);
        return named.Success
            ? $"MountVolume.SetUp failed for volume \"{named.Groups["volume"].Value}\" : {named.Groups["error"].Value}"
            : $"MountVolume.SetUp failed : {error}";
    }

    [GeneratedRegex("^volume \"(?<volume>[^\"]+)\": (?<error>.*)$", RegexOptions.Singleline)]
    private static partial Regex NamedVolume();
}
