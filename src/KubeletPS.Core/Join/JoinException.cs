namespace KubeletPS.Core.Join;

/// <summary>Why joining a cluster stopped; the cmdlet turns it into a stable ErrorId.</summary>
public enum JoinProblem
{
    /// <summary>The cluster-info ConfigMap could not be read (unreachable, forbidden, not there) within the discovery timeout.</summary>
    DiscoveryFailed,
    /// <summary>cluster-info has no JWS signature for the token id: an unknown, expired or non-signing token.</summary>
    TokenNotSigned,
    /// <summary>The JWS signature does not match the kubeconfig: cluster-info was tampered with or the secret is wrong.</summary>
    SignatureInvalid,
    /// <summary>The kubeconfig in cluster-info is missing or malformed.</summary>
    ClusterInfoInvalid,
    /// <summary>The cluster CA's public key matches none of the pinned hashes.</summary>
    CACertHashMismatch,
    /// <summary>The cluster-info fetched over verified TLS differs from the first one, or the server fails verification.</summary>
    ServerNotTrusted,
    /// <summary>The kubelet-config ConfigMap could not be read or is not a KubeletConfiguration.</summary>
    KubeletConfigInvalid,
    /// <summary>The API server refused the bootstrap token for TLS bootstrap (expired or deleted meanwhile).</summary>
    TokenRefused,
    /// <summary>kubelet.conf, bootstrap-kubelet.conf or ca.crt of an earlier join is in the way (without -Force).</summary>
    AlreadyJoined,
    /// <summary>A Ready node of the same name exists in the cluster, or the node could not be looked up.</summary>
    NodeExists,
}

/// <summary>Joining failed. Messages follow kubeadm's; a token appears only as ID.****.</summary>
public sealed class JoinException(JoinProblem problem, string message, string? target, Exception? inner = null)
    : KubeletException(message, KindOf(problem), target, inner)
{
    public JoinProblem Problem { get; } = problem;

    private static KubeletErrorKind KindOf(JoinProblem problem) => problem switch
    {
        JoinProblem.DiscoveryFailed => KubeletErrorKind.Connection,
        JoinProblem.TokenNotSigned or JoinProblem.TokenRefused => KubeletErrorKind.Authentication,
        JoinProblem.SignatureInvalid or JoinProblem.CACertHashMismatch or JoinProblem.ServerNotTrusted => KubeletErrorKind.Security,
        JoinProblem.AlreadyJoined or JoinProblem.NodeExists => KubeletErrorKind.Conflict,
        _ => KubeletErrorKind.InvalidData,
    };
}
