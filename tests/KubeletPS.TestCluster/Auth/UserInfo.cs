namespace KubeletPS.TestCluster.Auth;

/// <summary>An authenticated (or anonymous) user, as k8s.io/apiserver/pkg/authentication/user.Info.</summary>
public sealed record UserInfo(string Name, IReadOnlyList<string> Groups)
{
    public const string AllAuthenticated = "system:authenticated";
    public const string AllUnauthenticated = "system:unauthenticated";
    public const string Masters = "system:masters";
    public const string NodesGroup = "system:nodes";
    public const string NodeUserPrefix = "system:node:";

    public static UserInfo Anonymous { get; } = new("system:anonymous", [AllUnauthenticated]);

    /// <summary>The node name when this is a node identity (user system:node:NAME in group system:nodes), else null.</summary>
    public string? NodeName => Name.StartsWith(NodeUserPrefix, StringComparison.Ordinal) && Groups.Contains(NodesGroup)
        ? Name[NodeUserPrefix.Length..]
        : null;
}

/// <summary>What a request asks to do, as the authorizer sees it (authorizer.Attributes).</summary>
public sealed record RequestAttributes(UserInfo User, string Verb, string Path)
{
    public bool IsResourceRequest { get; init; }
    public string ApiGroup { get; init; } = "";
    public string ApiVersion { get; init; } = "";
    public string Resource { get; init; } = "";
    public string Subresource { get; init; } = "";
    public string Namespace { get; init; } = "";
    public string Name { get; init; } = "";

    /// <summary>
    /// For a list or watch, the name its fieldSelector requires exactly (metadata.name=NAME). The apiserver's
    /// RequestInfoFactory puts it in Name for the authorizers; it is kept apart here because the handlers tell a get from
    /// a list by <see cref="Name"/>.
    /// </summary>
    public string SelectorName { get; init; } = "";

    public string ResourceWithSubresource => Subresource.Length == 0 ? Resource : $"{Resource}/{Subresource}";

    /// <summary>The name a field selector requires with metadata.name=NAME or metadata.name==NAME; empty when it does not.</summary>
    public static string NameRequiredBy(string? fieldSelector)
    {
        foreach (var term in (fieldSelector ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var (field, value) = term.IndexOf("==", StringComparison.Ordinal) is var eq2 and >= 0 ? (term[..eq2], term[(eq2 + 2)..])
                : term.IndexOf('=') is var eq and > 0 && term[eq - 1] != '!' ? (term[..eq], term[(eq + 1)..]) : ("", "");
            // path.IsValidPathSegmentName: a name that could not be a path segment is not taken.
            if (field.Trim() == "metadata.name" && value.Trim() is { Length: > 0 } name && name is not ("." or "..") && !name.Contains('/') && !name.Contains('%'))
                return name;
        }
        return "";
    }
}

/// <summary>An authorizer's answer; <see cref="AuthorizationResult.Reason"/> is appended to the Forbidden message as the real server does.</summary>
public enum Decision { NoOpinion, Allow, Deny }

public readonly record struct AuthorizationResult(Decision Decision, string Reason = "")
{
    public static AuthorizationResult Allowed => new(Decision.Allow);
    public static AuthorizationResult NoOpinion => new(Decision.NoOpinion);
}

public interface IAuthorizer
{
    AuthorizationResult Authorize(RequestAttributes attributes);
}
