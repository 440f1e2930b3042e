using System.Net;
using System.Net.Sockets;
using System.Text;
using KubeletPS.Core.Server.Streaming;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeletPS.Core.Tests.Server.Streaming;

/// <summary>
/// The proxy as the API server uses it toward a node: a kubelet is not trusted with the API server's memory or
/// threads. A hostile backend (a TCP listener here) answers an upgrade with an endless response head, or not at all.
/// </summary>
public sealed class UpgradeAwareProxyAttackTests
{
    [Fact]
    public async Task A_backend_sending_an_endless_response_head_gets_500_and_the_connection_closed()
    {
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        var flood = Task.Run(async () =>
        {
            using var socket = await backend.AcceptSocketAsync();
            var line = Encoding.ASCII.GetBytes("X-Flood: " + new string('a', 1000) + "\r\n");
            long sent = 0;
            try
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\n"));
                while (sent < 64L << 20) sent += await socket.SendAsync(line);
            }
            catch (SocketException)
            {
                // The proxy hung up: what it should do.
            }

            return sent;
        });
        await using var proxy = await ProxyHost.StartAsync(new Uri($"http://127.0.0.1:{((IPEndPoint)backend.LocalEndpoint).Port}/exec/x"), TimeSpan.FromSeconds(30));

        var response = await proxy.SendUpgradeAsync();
        var sent = await flood.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains($"longer than {BackendConnection.MaxResponseHeadBytes} bytes", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(sent < 64L << 20, $"the proxy read all {sent} bytes of the flood");
    }

    [Fact]
    public async Task A_backend_that_never_answers_gets_500_instead_of_holding_the_request()
    {
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        var silent = Task.Run(async () =>
        {
            using var socket = await backend.AcceptSocketAsync();
            var buffer = new byte[4096];
            while (await socket.ReceiveAsync(buffer) > 0)
            {
                // Reads the request and says nothing.
            }
        });
        await using var proxy = await ProxyHost.StartAsync(new Uri($"http://127.0.0.1:{((IPEndPoint)backend.LocalEndpoint).Port}/exec/x"), TimeSpan.FromSeconds(1));

        var response = await proxy.SendUpgradeAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.StartsWith("error proxying to backend", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await silent.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private sealed class ProxyHost(WebApplication app) : IAsyncDisposable
    {
        public static async Task<ProxyHost> StartAsync(Uri backend, TimeSpan backendTimeout)
        {
            var proxy = new UpgradeAwareProxy(new UpgradeAwareProxyOptions { BackendTimeout = backendTimeout });
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            app.Run(context => proxy.ProxyAsync(context, backend));
            await app.StartAsync();
            return new ProxyHost(app);
        }

        public async Task<HttpResponseMessage> SendUpgradeAsync()
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(90) };
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(address), "/exec/x"));
            request.Headers.Connection.Add("Upgrade");
            request.Headers.Upgrade.Add(new System.Net.Http.Headers.ProductHeaderValue("SPDY", "3.1"));
            var response = await http.SendAsync(request);
            await response.Content.LoadIntoBufferAsync();
            return response;
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
