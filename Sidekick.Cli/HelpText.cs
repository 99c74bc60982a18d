namespace Sidekick.Cli;

/// <summary>The help text (A27): the original's sections and seven examples; durations are Go durations, not "seconds".</summary>
internal static class HelpText
{
    public const string Text = """
        NAME:
          sidekick - High-Performance sidecar load-balancer

        USAGE:
          sidekick [FLAGS] SITE1 [SITE2..]

        FLAGS:
          --address value, -a value           listening address for sidekick (default: ":8080")
          --health-path value, -p value       health check path
          --read-health-path value, -r value  health check path for read access - valid only for failover site
          --health-port value                 health check port (default: 0)
          --health-duration value, -d value   health check interval, a Go duration such as 5s or 1m30s (default: 5s)
          --health-timeout value              health check timeout, a Go duration such as 10s (default: 10s)
          --health-optimistic                 probe a backend only while it is down
          --insecure, -i                      disable TLS certificate verification
          --rr-dns-mode                       enable round-robin DNS mode
          --auto-tls-host value               enable auto TLS mode with a self-signed certificate for these comma separated host names/IPs
          --log, -l                           enable logging
          --trace value, -t value             enable request tracing - valid values are [all,application,minio] (default: "all")
          --quiet, -q                         disable console messages
          --json                              output sidekick logs and trace in json format
          --debug                             output verbose trace
          --cacert value                      CA certificate to verify peer against
          --client-cert value                 client certificate file
          --client-key value                  client private key file
          --cert value                        server certificate file
          --key value                         server private key file
          --key-password value                password of an encrypted private key (--key, --client-key)
          --pprof value                       start and listen for profiling on the specified address (e.g. :1337)
          --dns-ttl value                     how often DNS entries of the endpoints are refreshed, a Go duration (default: 10m0s)
          --errors, -e                        filter out any non-error responses
          --status-code value                 filter by given status code (repeat the flag for more codes)
          --host-balance value                specify the algorithm to select backend host when load balancing, supported values are 'least', 'random' (default: "least")
          --header-timeout value              time allowed to receive a request head from a client, and to finish a body the backend answered early, a Go duration (default: 30s)
          --idle-timeout value                how long an idle client keep-alive connection is kept open, a Go duration (default: 2m0s)
          --max-header-bytes value            largest request or response head in bytes, 1024 to 1048576 (default: 65536)
          --max-header-count value            most header fields in one request or response head, 1 to 10000 (default: 100)
          --shutdown-timeout value            how long in-flight requests may finish after SIGTERM or SIGINT, 0 to stop at once (default: 25s)
          --help, -h                          show help
          --version, -v                       print the version

        SITE:
          Each SITE is a comma separated list of pools of that site: http[s]://host{1...4}:port.
          If all servers in SITE1 are down, then the traffic is routed to the next site - SITE2.

        EXAMPLES:
          1. Load balance across a web service using DNS provided IPs.
             $ sidekick --health-path=/ready http://myapp.myorg.dom

          2. Load balance across 4 MinIO Servers (http://minio1:9000 to http://minio4:9000)
             $ sidekick --health-path=/minio/health/ready --address :8000 http://minio{1...4}:9000

          3. Load balance across two sites with four servers each
             $ sidekick --health-path=/minio/health/ready http://site1-minio{1...4}:9000 http://site2-minio{1...4}:9000

          4. Load balance across two sites with four servers each, failing over to the second site while it has read quorum
             $ sidekick --health-path=/minio/health/ready --read-health-path=/minio/health/cluster/read http://site1-minio{1...4}:9000 http://site2-minio{1...4}:9000

          5. Sidekick as TLS terminator
             $ sidekick --cert public.crt --key private.key --health-path=/minio/health/cluster http://site1-minio{1...4}:9000

          6. Load balance across 4 MinIO Servers, choosing a random server for each request
             $ sidekick --health-path=/minio/health/ready --host-balance=random http://minio{1...4}:9000

          7. Load balance across all the addresses of a round-robin DNS name
             $ sidekick --health-path=/minio/health/ready --rr-dns-mode http://minio.example.com:9000

        """;
}
