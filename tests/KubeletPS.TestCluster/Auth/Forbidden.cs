using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Auth;

/// <summary>403 Forbidden errors worded as apierrors.NewForbidden and the endpoint handlers' forbiddenMessage.</summary>
public static class Forbidden
{
    /// <summary>The authorizer said no: 'pods "x" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace "ns"'.</summary>
    public static ApiException ForRequest(RequestAttributes a, string reason)
    {
        string message;
        if (!a.IsResourceRequest)
        {
            message = $"User \"{a.User.Name}\" cannot {a.Verb} path \"{a.Path}\"";
        }
        else
        {
            var scope = a.Namespace.Length > 0 ? $"in the namespace \"{a.Namespace}\"" : "at the cluster scope";
            message = $"User \"{a.User.Name}\" cannot {a.Verb} resource \"{a.ResourceWithSubresource}\" in API group \"{a.ApiGroup}\" {scope}";
        }
        if (reason.Length > 0) message += ": " + reason;
        var qualified = a.ApiGroup.Length == 0 ? a.Resource : $"{a.Resource}.{a.ApiGroup}";
        return Create(a.ApiGroup, a.Resource, qualified, a.Name, message);
    }

    /// <summary>An admission plugin said no: 'nodes "b" is forbidden: node "a" is not allowed to modify node "b"'.</summary>
    public static ApiException ByAdmission(ResourceType type, string name, string message) =>
        Create(type.Group, type.Plural, type.QualifiedName, name, message);

    private static ApiException Create(string group, string resource, string qualified, string name, string message)
    {
        var details = new JsonObject();
        if (name.Length > 0) details["name"] = name;
        if (group.Length > 0) details["group"] = group;
        if (resource.Length > 0) details["kind"] = resource;
        var text = (qualified.Length, name.Length) switch
        {
            (0, 0) => $"forbidden: {message}",
            (_, 0) => $"{qualified} is forbidden: {message}",
            _ => $"{qualified} \"{name}\" is forbidden: {message}",
        };
        return new ApiException(403, "Forbidden", text, details);
    }
}
