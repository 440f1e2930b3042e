namespace KubeletPS.Core.Pods.Images;

/// <summary>
/// An image name normalized as kubelet's parsers.ParseImageName does (docker reference's
/// ParseNormalizedNamed): "busybox" is docker.io/library/busybox, "index.docker.io" is docker.io, and the
/// repository is the name without tag or digest — what the keyring is asked about.
/// </summary>
public static class ImageReference
{
    public static string Repository(string image)
    {
        var name = image;
        var at = name.IndexOf('@');
        if (at >= 0) name = name[..at];
        var lastSlash = name.LastIndexOf('/');
        var colon = name.LastIndexOf(':');
        if (colon > lastSlash) name = name[..colon];

        var slash = name.IndexOf('/');
        string domain, remainder;
        if (slash < 0 || !(name[..slash].Contains('.') || name[..slash].Contains(':') || name[..slash] == "localhost"))
            (domain, remainder) = ("docker.io", name);
        else
            (domain, remainder) = (name[..slash], name[(slash + 1)..]);
        if (domain == "index.docker.io") domain = "docker.io";
        if (domain == "docker.io" && !remainder.Contains('/')) remainder = "library/" + remainder;
        return domain + "/" + remainder;
    }
}
