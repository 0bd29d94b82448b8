import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

// Starts DynamoDB Local bound to 127.0.0.1 only. DynamoDB Local has no host
// option and listens on every interface; its Jetty connector is reachable
// through the proxy server's private field, so set the host before starting.
// The CLI insists on a port of its own; the connector is switched to port 0
// so the OS picks a free one, printed as "ready <port>".
public class LoopbackDynamoDB {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    for (Connector c : server.getConnectors()) {
      ((ServerConnector) c).setHost("127.0.0.1");
      ((ServerConnector) c).setPort(0);
    }
    proxy.start();
    int port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    System.out.println("ready " + port);
    System.out.flush();
    proxy.join();
  }
}
