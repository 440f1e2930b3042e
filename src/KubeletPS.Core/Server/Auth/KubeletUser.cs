namespace KubeletPS.Core.Server.Auth;

/// <summary>Who made a request to the kubelet server (k8s.io/apiserver user.Info).</summary>
public sealed record KubeletUser(string Name, IReadOnlyList<string> Groups, string Uid = "", IReadOnlyDictionary<string, IReadOnlyList<string>>? Extra = null)
{
    public const string AllAuthenticated = "system:authenticated";
    public const string AllUnauthenticated = "system:unauthenticated";

    /// <summary>The anonymous user, when authentication.anonymous.enabled (anonymous.NewAuthenticator).</summary>
    public static KubeletUser Anonymous { get; } = new("system:anonymous", [AllUnauthenticated]);

    /// <summary>As the AuthenticatedGroupAdder: every authenticated user is in system:authenticated.</summary>
    internal KubeletUser WithAuthenticatedGroup() =>
        Groups.Contains(AllAuthenticated) || Groups.Contains(AllUnauthenticated) ? this : this with { Groups = [.. Groups, AllAuthenticated] };
}

/// <summary>What a request asks of the node, as kubelet's GetRequestAttributes maps it for the SubjectAccessReview.</summary>
public sealed record KubeletRequestAttributes(KubeletUser User, string Verb, string NodeName, string Subresource, string Path)
{
    public static string Resource => "nodes";

    /// <summary>
    /// pkg/kubelet/server/auth.go GetRequestAttributes: resource nodes, the node's name, subresource by path
    /// (/stats → stats, /metrics → metrics, /logs → log, /spec → spec, /checkpoint → checkpoint, everything else proxy),
    /// verb from the method (GET and HEAD get, POST create, PUT update, PATCH patch, DELETE delete).
    /// </summary>
    public static KubeletRequestAttributes For(KubeletUser user, string method, string path, string nodeName)
    {
        var verb = method.ToUpperInvariant() switch
        {
            "GET" or "HEAD" => "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "",
        };
        var subresource = IsSubpath(path, "/stats") ? "stats"
            : IsSubpath(path, "/metrics") ? "metrics"
            : IsSubpath(path, "/logs") ? "log"
            : IsSubpath(path, "/spec") ? "spec"
            : IsSubpath(path, "/checkpoint") ? "checkpoint"
            : "proxy";
        return new KubeletRequestAttributes(user, verb, nodeName, subresource, path);
    }

    /// <summary>kubelet's isSubpath: the path itself or below it (/statsfoo is not under /stats).</summary>
    internal static bool IsSubpath(string path, string root) =>
        path == root || (path.StartsWith(root, StringComparison.Ordinal) && path.Length > root.Length && path[root.Length] == '/');

    /// <summary>kubelet's 403 body: Forbidden (user=%s, verb=%s, resource=%s, subresource=%s).</summary>
    public string ForbiddenMessage => $"Forbidden (user={User.Name}, verb={Verb}, resource={Resource}, subresource={Subresource})";

    public string ErrorMessage => $"Authorization error (user={User.Name}, verb={Verb}, resource={Resource}, subresource={Subresource})";
}
