using System.Text.Json.Nodes;

namespace KubeletPS.TestCluster.Storage;

/// <summary>
/// An API error carried as a metav1.Status, built with the same messages as
/// k8s.io/apimachinery/pkg/api/errors so clients that match on reason or message behave as against the real server.
/// </summary>
public sealed class ApiException(int code, string reason, string message, JsonObject? details = null) : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
    public JsonObject Details { get; } = details ?? new JsonObject();

    /// <summary>Seconds a client should wait before retrying (sets details.retryAfterSeconds and the Retry-After header).</summary>
    public int? RetryAfterSeconds { get; init; }

    public JsonObject ToStatus()
    {
        var details = (JsonObject)Details.DeepClone();
        if (RetryAfterSeconds is { } retry) details["retryAfterSeconds"] = retry;
        return new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
            ["reason"] = Reason,
            ["details"] = details,
            ["code"] = Code,
        };
    }

    private static JsonObject NameDetails(ResourceType type, string? name)
    {
        var d = new JsonObject();
        if (!string.IsNullOrEmpty(name)) d["name"] = name;
        if (type.Group.Length > 0) d["group"] = type.Group;
        d["kind"] = type.Plural;
        return d;
    }

    public static ApiException NotFound(ResourceType type, string name) =>
        new(404, "NotFound", $"{type.QualifiedName} \"{name}\" not found", NameDetails(type, name));

    public static ApiException AlreadyExists(ResourceType type, string name) =>
        new(409, "AlreadyExists", $"{type.QualifiedName} \"{name}\" already exists", NameDetails(type, name));

    public static ApiException Conflict(ResourceType type, string name, string why) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {type.QualifiedName} \"{name}\": {why}", NameDetails(type, name));

    public static ApiException StaleResourceVersion(ResourceType type, string name) =>
        Conflict(type, name, "the object has been modified; please apply your changes to the latest version and try again");

    public static ApiException Invalid(ResourceType type, string name, string field, string detail)
    {
        var details = NameDetails(type, name);
        details["causes"] = new JsonArray(new JsonObject { ["reason"] = "FieldValueInvalid", ["message"] = $"Invalid value: {detail}", ["field"] = field });
        return new(422, "Invalid", $"{type.Kind} \"{name}\" is invalid: {field}: Invalid value: {detail}", details);
    }

    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiException Expired(string message) => new(410, "Expired", message);

    public static ApiException MethodNotSupported(ResourceType type, string action) =>
        new(405, "MethodNotAllowed", $"{action} is not supported on resources of kind \"{type.QualifiedName}\"", NameDetails(type, null));

    public static ApiException UnsupportedMediaType(string contentType) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {contentType})");

    public static ApiException InternalError(string message) =>
        new(500, "InternalError", $"Internal error occurred: {message}", new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["message"] = message }) });
}
